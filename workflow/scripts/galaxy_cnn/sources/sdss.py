"""SDSS SkyServer: the paper's SQL selection, keyset-paged, and getjpeg cutouts."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import files
from ..catalog import clean_catalog, read_catalog, write_catalog
from ..cutouts import (
    cutout_stamp,
    is_verified,
    manifest_row,
    shard_rows,
    stamp_jpeg,
    write_manifest,
)
from ..skyserver import CATALOG_COLUMNS, CutoutClient, Retry, SqlClient, paper_sql

log = logging.getLogger(__name__)


def download_sdss_catalog(
    base_url: str,
    pages_dir: str,
    page_size: int = 50_000,
    limit: int | None = None,
    min_interval: float = 1.0,
    timeout: float = 600,
    retries: int = 5,
    retry_delay: float = 2.0,
) -> tuple[pd.DataFrame, dict]:
    """Keyset-page the paper's selection into atomic page files; resume from the pages on disk.

    The download ends only on an empty page: a body cut at a line boundary looks like a short
    last page, so a short page is confirmed by asking for what comes after it. Pages made for
    another URL, page size or limit are discarded first.
    """
    client = SqlClient(
        base_url,
        timeout=timeout,
        retry=Retry(attempts=retries, base_delay=retry_delay),
        min_interval=min_interval,
    )
    pages = Path(pages_dir)
    query = {
        "url": base_url,
        "page_size": page_size,
        "limit": limit,
        "sql": paper_sql(page_size, 0),
    }
    stamp = pages / "query.json"
    if pages.exists() and (not stamp.exists() or files.read_json(stamp) != query):
        log.info("discarding catalog pages made for another query in %s", pages)
        shutil.rmtree(pages)
    pages.mkdir(parents=True, exist_ok=True)
    files.write_json(query, stamp)
    done = sorted(pages.glob("page-*.csv"))
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in done]
    n_rows = sum(len(f) for f in frames)
    finished = bool(done) and (pages / "complete").exists()
    last = int(frames[-1]["specObjID"].iloc[-1]) if frames and len(frames[-1]) else 0
    if done:
        log.info("resuming: %d pages (%d rows) on disk, last specObjID %d", len(done), n_rows, last)
    with tqdm(desc="catalog pages", unit="row", initial=n_rows, mininterval=2) as bar:
        while not finished and (limit is None or n_rows < limit):
            top = page_size if limit is None else min(page_size, limit - n_rows)
            rows = client.query(paper_sql(top, last), CATALOG_COLUMNS)
            page = pd.DataFrame(rows, columns=CATALOG_COLUMNS, dtype=str)
            if len(page):
                ids = [int(v) for v in page["specObjID"]]
                if ids != sorted(ids) or ids[0] <= last:
                    raise RuntimeError(
                        "SkyServer returned a page out of specObjID order; paging is unsafe"
                    )
                files.write_csv(page, pages / f"page-{len(frames):05d}.csv")
                frames.append(page)
                last = ids[-1]
            n_rows += len(page)
            bar.update(len(page))
            if len(page) == 0:
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


def build_catalog(inputs: dict, settings: dict, outputs: dict) -> dict:
    s = settings
    raw, info = download_sdss_catalog(
        s["url"],
        s["pages"],
        s["page_size"],
        s["limit"],
        s["min_query_interval"],
        s["query_timeout"],
        s["retries"],
        s["retry_delay"],
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
    shard: int,
    n_shards: int,
    image: dict,
    settings: dict,
    folder: str,
    out_manifest: str,
) -> pd.DataFrame:
    """Fetch one shard's cutouts with `settings['concurrency']` connections under a global rate cap."""
    size, scale, s = image["size"], image["scale"], settings
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards)
    client = CutoutClient(
        s["url"],
        size,
        scale,
        s["timeout"],
        Retry(attempts=s["retries"], base_delay=s["retry_delay"]),
        s["requests_per_second"],
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stale = files.remove_stale_parts(out, {f"{int(o)}.jpg" for o in rows["objID"]})
    if stale:
        log.info("shard %d: removed %d half-written files of a killed run", shard, stale)

    def work(row) -> dict:
        path = out / f"{int(row.objID)}.jpg"
        stamp = cutout_stamp(
            source="sdss",
            url=s["url"],
            size=size,
            scale=scale,
            ra=float(row.ra),
            dec=float(row.dec),
        )
        if is_verified(path, size, stamp):
            return manifest_row(row.objID, "ok", 0, None, "")
        if not (np.isfinite(row.ra) and np.isfinite(row.dec)):
            return manifest_row(row.objID, "failed", 0, None, "catalog row has no valid ra/dec")
        res = client.fetch(float(row.ra), float(row.dec))
        if res.status == "ok":
            files.write_bytes(path, stamp_jpeg(res.data, stamp))
        return manifest_row(row.objID, res.status, res.attempts, res.http_status, res.error)

    with ThreadPoolExecutor(s["concurrency"]) as pool:
        results = list(
            tqdm(
                pool.map(work, rows.itertuples()),
                total=len(rows),
                desc=f"shard {shard}",
                unit="img",
                mininterval=2,
            )
        )
    return write_manifest(results, out_manifest)
