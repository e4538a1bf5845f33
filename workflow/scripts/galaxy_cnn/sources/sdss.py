"""SDSS SkyServer: the paper's SQL selection, keyset-paged; cutouts from the configured service
(SkyServer's getjpeg or the Legacy Surveys viewer, services.py) at the catalog's positions."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .. import files
from ..catalog import clean_catalog, read_catalog, write_catalog
from ..cutouts import at_position, run_shard, shard_rows
from ..services import cutout_service
from ..skyserver import CATALOG_COLUMNS, Retry, SqlClient, paper_sql

log = logging.getLogger(__name__)


def download_sdss_catalog(
    base_url: str,
    pages_dir: str,
    *,
    page_size: int = 50_000,
    limit: int | None = None,
    min_interval: float = 1.0,
    timeout: float = 600,
    retries: int = 5,
    retry_delay: float = 2.0,
) -> tuple[pd.DataFrame, dict]:
    """Keyset-page the paper's selection into atomic page files; resume from the pages on disk.

    The download ends only on an empty page (a `complete` marker then says so). Pages made for
    another URL, page size or limit are discarded first.
    """
    client = SqlClient(
        base_url,
        timeout=timeout,
        retry=Retry(attempts=retries, base_delay=retry_delay),
        min_interval=min_interval,
    )
    pages = Path(pages_dir)
    query = {"url": base_url, "page_size": page_size, "limit": limit, "sql": paper_sql(page_size)}
    frames, finished = _pages_on_disk(pages, query)
    n_rows = sum(len(f) for f in frames)
    last = int(frames[-1]["specObjID"].iloc[-1]) if frames and len(frames[-1]) else 0

    def sql_after(after: int) -> str:  # a limit's last page asks for no more than it lacks
        return paper_sql(page_size if limit is None else min(page_size, limit - n_rows), after)

    with tqdm(desc="catalog pages", unit="row", initial=n_rows, mininterval=2) as bar:
        if not finished and (limit is None or n_rows < limit):
            keyed = client.keyset_pages(sql_after, "specObjID", after=last, columns=CATALOG_COLUMNS)
            for _, rows in keyed:
                if rows:
                    page = pd.DataFrame(rows, columns=CATALOG_COLUMNS, dtype=str)
                    files.write_csv(page, pages / f"page-{len(frames):05d}.csv")
                    frames.append(page)
                n_rows += len(rows)
                bar.update(len(rows))
                if limit is not None and n_rows >= limit:
                    break
            else:  # the empty page came
                finished = True
        if finished:
            (pages / "complete").touch()
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CATALOG_COLUMNS)
    return raw, {
        "pages": len(frames),
        "rows_downloaded": len(raw),
        "complete": finished,
        "sql_first_page": paper_sql(page_size, 0),
    }


def _pages_on_disk(pages: Path, query: dict) -> tuple[list[pd.DataFrame], bool]:
    """The pages a killed download left for this same query (others are discarded), and
    whether the download had finished."""
    stamp = pages / "query.json"
    if pages.exists() and (not stamp.exists() or files.read_json(stamp) != query):
        log.info("discarding catalog pages made for another query in %s", pages)
        shutil.rmtree(pages)
    pages.mkdir(parents=True, exist_ok=True)
    files.write_json(query, stamp)
    done = sorted(pages.glob("page-*.csv"))
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in done]
    if done:
        log.info("resuming: %d pages (%d rows) on disk", len(done), sum(len(f) for f in frames))
    return frames, bool(done) and (pages / "complete").exists()


def build_catalog(inputs: dict, settings: dict, outputs: dict) -> dict:
    s = settings
    raw, info = download_sdss_catalog(
        s["url"],
        s["pages"],
        page_size=s["page_size"],
        limit=s["limit"],
        min_interval=s["min_query_interval"],
        timeout=s["query_timeout"],
        retries=s["retries"],
        retry_delay=s["retry_delay"],
    )
    df, report, rejected = clean_catalog(raw, name="SkyServer catalog")
    meta = {
        "source": "sdss",
        "url": s["url"],
        "data_release": s["url"].rstrip("/").rsplit("/", 1)[-1],
        "settings": s,
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    } | info
    return write_catalog(df, report, rejected, outputs, meta)


def cutouts_shard(
    catalog_csv: str,
    inputs: dict,
    *,
    shard: int,
    n_shards: int,
    image: dict,
    settings: dict,
    folder: str,
    out_manifest: str,
) -> pd.DataFrame:
    """Fetch one shard's cutouts from the configured service (`settings`, see services.py),
    `concurrency` at a time under the service's rate cap."""
    service = cutout_service(settings, image)
    return run_shard(
        shard_rows(read_catalog(catalog_csv), shard, n_shards),
        folder,
        out_manifest=out_manifest,
        size=image["size"],
        stamp_of=service.stamp_of,
        make=at_position(service.fetch),
        concurrency=service.concurrency,
        desc=f"shard {shard}",
    )
