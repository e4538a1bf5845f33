"""The galaxy catalog (`results/catalog.csv`) from SDSS, the synthetic universe or the user's file.

Whatever the source, the catalog has integer objIDs (never floats), NaN for missing values
(SDSS's -9999), one row per objID, and a JSON sidecar that counts every row excluded and why.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import files, provenance
from .skyserver import CATALOG_COLUMNS, SqlClient, paper_sql

log = logging.getLogger(__name__)
SENTINEL = -9999
INT64_MAX = 2**63 - 1


def valid_ids(values: pd.Series) -> pd.Series:
    """True where the value is a positive 64-bit integer written as digits (no floats, no signs)."""
    s = values.astype("string").str.strip()
    digits = s.str.fullmatch(r"[0-9]{1,19}").fillna(False).astype(bool)
    ok = digits.copy()
    ok[digits] = [0 < int(v) <= INT64_MAX for v in s[digits]]
    return ok


def clean_catalog(raw: pd.DataFrame, require_coords: bool = True) -> tuple[pd.DataFrame, dict]:
    """Validate IDs and coordinates, turn -9999 into NaN, drop duplicate objIDs deterministically."""
    report: dict = {"rows_in": len(raw)}
    ok_id = valid_ids(raw["objID"])
    bad = ~ok_id
    if require_coords:
        ra = pd.to_numeric(raw["ra"], errors="coerce")
        dec = pd.to_numeric(raw["dec"], errors="coerce")
        bad_coord = ~((ra >= 0) & (ra < 360) & (dec >= -90) & (dec <= 90))
        report["rejected_bad_coordinates"] = int((bad_coord & ok_id).sum())
        bad |= bad_coord
    report["rejected_bad_objID"] = int((~ok_id).sum())
    report["rejected_rows"] = raw.index[bad].tolist()[:50]
    df = raw[~bad].copy()
    df["objID"] = df["objID"].astype("string").str.strip().astype("int64")
    for col in df.columns:
        if col in ("objID", "specObjID"):
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        if num.notna().sum() >= df[col].notna().sum():  # a numeric column
            df[col] = num.mask(num == SENTINEL)
    sort_cols = ["objID"] + (["specObjID"] if "specObjID" in df.columns else [])
    if "specObjID" in df.columns:
        df["_spec"] = df["specObjID"].astype("string").str.zfill(20)
        sort_cols = ["objID", "_spec"]
    df = df.sort_values(sort_cols, kind="stable")
    dup = df["objID"].duplicated(keep="first")
    report["duplicate_objID_dropped"] = int(dup.sum())  # one photometric object, several spectra
    df = df[~dup].drop(columns=["_spec"], errors="ignore").reset_index(drop=True)
    report["rows_out"] = len(df)
    return df, report


def download_sdss_catalog(
    base_url: str, pages_dir: str, page_size: int = 50_000, limit: int | None = None,
    min_interval: float = 1.0, timeout: float = 600, retries: int = 5, retry_delay: float = 2.0,
) -> tuple[pd.DataFrame, dict]:
    """Keyset-page the paper's selection into atomic page files; resume from the pages on disk.

    The download ends only on an empty page: a body cut at a line boundary looks like a short
    last page, so a short page is confirmed by asking for what comes after it.
    """
    from .skyserver import Retry

    client = SqlClient(base_url, timeout=timeout, retry=Retry(attempts=retries, base_delay=retry_delay),
                       min_interval=min_interval)
    pages = Path(pages_dir)
    pages.mkdir(parents=True, exist_ok=True)
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
                files.write_csv(page, pages / f"page-{len(frames):05d}.csv")
                frames.append(page)
                ids = [int(v) for v in page["specObjID"]]
                if ids != sorted(ids) or ids[0] <= last:
                    raise RuntimeError("SkyServer returned a page out of specObjID order; paging is unsafe")
                last = ids[-1]
            n_rows += len(page)
            bar.update(len(page))
            if len(page) == 0:
                finished = True
        if finished:
            (pages / "complete").touch()
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CATALOG_COLUMNS)
    return raw, {"pages": len(frames), "rows_downloaded": len(raw), "complete": finished,
                 "sql_first_page": paper_sql(page_size, 0)}


def build_sdss_catalog(cfg: dict, out_csv: str, out_meta: str, pages_dir: str) -> dict:
    sdss = cfg["sdss"]
    raw, info = download_sdss_catalog(sdss["url"], pages_dir, sdss["page_size"], sdss.get("limit"),
                                      sdss["min_query_interval"], sdss["query_timeout"], sdss["retries"],
                                      sdss["retry_delay"])
    df, report = clean_catalog(raw)
    files.write_csv(df, out_csv)
    meta = {"source": "sdss", "url": sdss["url"], "data_release": sdss["url"].rstrip("/").rsplit("/", 1)[-1],
            "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")} | info | report | {
            "provenance": provenance.collect()}
    files.write_json(meta, out_meta)
    return meta


def build_synthetic_catalog(cfg: dict, out_csv: str, out_meta: str, out_truth: str, out_floor: str) -> dict:
    from . import synthetic

    syn = cfg["synthetic"]
    settings = synthetic.PopulationSettings(hidden_scatter=syn["hidden_scatter"])
    cat, truth, counts = synthetic.draw_population(syn["n_galaxies"], syn["seed"], settings)
    df, report = clean_catalog(cat)
    files.write_csv(truth, out_truth)
    files.write_json(synthetic.floor_summary(truth, settings), out_floor)
    files.write_csv(df, out_csv)
    meta = {"source": "synthetic", "seed": syn["seed"], "settings": vars(settings)} | counts | report | {
        "provenance": provenance.collect()}
    files.write_json(meta, out_meta)
    return meta


def build_local_catalog(cfg: dict, out_csv: str, out_meta: str) -> dict:
    """The user's own catalog: objID plus the configured target columns (ra/dec optional)."""
    local = cfg["local"]
    path = Path(local["catalog"])
    if not path.is_file():
        raise FileNotFoundError(f"local.catalog: {path} does not exist")
    raw = pd.read_csv(path, dtype={"objID": "string"})
    needed = ["objID", *cfg["targets"]]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise KeyError(f"local.catalog {path} lacks column(s) {missing}; it has {list(raw.columns)}")
    has_coords = {"ra", "dec"} <= set(raw.columns)
    df, report = clean_catalog(raw, require_coords=has_coords)
    for col in cfg["targets"]:
        report[f"missing_{col}"] = int(df[col].isna().sum())
    files.write_csv(df, out_csv)
    meta = {"source": "local", "catalog": str(path.resolve())} | report | {"provenance": provenance.collect()}
    files.write_json(meta, out_meta)
    return meta


def read_catalog(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"objID": "int64", "specObjID": "string"})


def finite_targets(df: pd.DataFrame, target: str) -> np.ndarray:
    return np.isfinite(df[target].to_numpy(dtype=float))
