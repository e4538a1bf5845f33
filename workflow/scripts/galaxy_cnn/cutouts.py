"""Cutouts, one JPEG per galaxy at `results/cutouts/{objID}.jpg`, made in shards.

Each shard writes its own manifest (objID, status, attempts, http_status, error); the merged
`manifest.csv` has exactly one row per catalog galaxy. Files are written atomically and a rerun
keeps every file that still verifies, so an interrupted download resumes without loss.
"""

from __future__ import annotations

import logging
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import files
from .catalog import read_catalog
from .images import IMAGE_SUFFIXES, ImageError, decode_image

log = logging.getLogger(__name__)
MANIFEST_COLUMNS = ["objID", "status", "attempts", "http_status", "error"]


def shard_rows(catalog: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Rows of one shard: every n-th galaxy in objID order (balanced, stable across reruns)."""
    ordered = catalog.sort_values("objID").reset_index(drop=True)
    return ordered.iloc[shard::n_shards]


def is_verified(path: Path, size: int) -> bool:
    try:
        decode_image(path.read_bytes(), size)
        return True
    except (OSError, ImageError):
        return False


def _row(obj_id: int, status: str, attempts: int = 0, http_status=None, error: str = "") -> dict:
    return {"objID": int(obj_id), "status": status, "attempts": attempts,
            "http_status": http_status, "error": error}


def fetch_sdss_shard(catalog_csv: str, out_dir: str, shard: int, n_shards: int, cfg: dict, out_manifest: str) -> pd.DataFrame:
    from .skyserver import CutoutClient, Retry

    c = cfg["cutouts"]
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards)
    client = CutoutClient(cfg["sdss"]["url"], c["size"], c["scale"], c["timeout"],
                          Retry(attempts=c["retries"], base_delay=c["retry_delay"]), c["requests_per_second"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = files.remove_stale_parts(out, {f"{int(o)}.jpg" for o in rows["objID"]})
    if stale:
        log.info("shard %d: removed %d half-written files of a killed run", shard, stale)

    def work(row) -> dict:
        path = out / f"{int(row.objID)}.jpg"
        if path.exists() and is_verified(path, c["size"]):
            return _row(row.objID, "ok", 0, None, "")
        if not (np.isfinite(row.ra) and np.isfinite(row.dec)):
            return _row(row.objID, "failed", 0, None, "catalog row has no valid ra/dec")
        res = client.fetch(float(row.ra), float(row.dec))
        if res.status == "ok":
            files.write_bytes(path, res.data)
        return _row(row.objID, res.status, res.attempts, res.http_status, res.error)

    with ThreadPoolExecutor(c["concurrency"]) as pool:
        results = list(tqdm(pool.map(work, rows.itertuples()), total=len(rows), desc=f"shard {shard}",
                            unit="img", mininterval=2))
    manifest = pd.DataFrame(results, columns=MANIFEST_COLUMNS)
    files.write_csv(manifest, out_manifest)
    return manifest


def render_synthetic_shard(catalog_csv: str, truth_csv: str, out_dir: str, shard: int, n_shards: int, cfg: dict, out_manifest: str) -> pd.DataFrame:
    from . import synthetic

    c = cfg["cutouts"]
    settings = synthetic.RenderSettings(**cfg["synthetic"].get("render", {}))
    truth = pd.read_csv(truth_csv, dtype={"objID": "int64"})
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards).merge(truth, on="objID", how="left")
    out = Path(out_dir)
    results = []
    for row in tqdm(rows.itertuples(index=False), total=len(rows), desc=f"render shard {shard}", unit="img", mininterval=2):
        path = out / f"{int(row.objID)}.jpg"
        if not (path.exists() and is_verified(path, c["size"])):
            rgb = synthetic.render_galaxy(row, c["size"], c["scale"],
                                          synthetic.galaxy_seed(cfg["synthetic"]["seed"], row.objID), settings)
            files.write_bytes(path, synthetic.jpeg_bytes(rgb, settings.jpeg_quality))
        results.append(_row(row.objID, "ok", 1))
    manifest = pd.DataFrame(results, columns=MANIFEST_COLUMNS)
    files.write_csv(manifest, out_manifest)
    return manifest


FITS_SUFFIXES = (".fits", ".fit", ".fits.gz")
LOCAL_SUFFIXES = IMAGE_SUFFIXES + FITS_SUFFIXES


def find_local_image(folder: Path, obj_id: int) -> Path | None:
    for suffix in LOCAL_SUFFIXES + tuple(s.upper() for s in LOCAL_SUFFIXES):
        p = folder / f"{obj_id}{suffix}"
        if p.exists():
            return p
    return None


def fits_to_rgb(path: Path, size: int) -> np.ndarray:
    """A g, r, i FITS cube (3, H, W) in flux units to SkyServer-like RGB uint8 (i, r, g -> R, G, B)."""
    from astropy.io import fits

    from .synthetic import RenderSettings, asinh_rgb

    try:
        with fits.open(path) as hdul:
            cube = next((h.data for h in hdul if h.data is not None), None)
    except OSError as err:
        raise ImageError(f"cannot read FITS: {err}") from err
    if cube is None or cube.ndim != 3 or 3 not in (cube.shape[0], cube.shape[-1]):
        raise ImageError(f"FITS data must be a (3, H, W) g, r, i cube, got shape {getattr(cube, 'shape', None)}")
    cube = np.asarray(cube, dtype=float)
    if cube.shape[0] != 3:
        cube = cube.transpose(2, 0, 1)
    if cube.shape[1:] != (size, size):
        raise ImageError(f"image is {cube.shape[2]}x{cube.shape[1]} px, expected {size}x{size}")
    g, r, i = np.nan_to_num(cube)
    return (np.clip(asinh_rgb(i, r, g, RenderSettings()), 0, 1) * 255 + 0.5).astype(np.uint8)


def read_local_image(path: Path, size: int | None) -> np.ndarray:
    """A user's JPEG, PNG or g, r, i FITS cube as RGB uint8, checked to be size x size px."""
    if path.name.lower().endswith(FITS_SUFFIXES):
        if size is None:
            raise ImageError("FITS input needs the cutout size")
        return fits_to_rgb(path, size)
    return decode_image(path, size)


def import_local_shard(catalog_csv: str, out_dir: str, shard: int, n_shards: int, cfg: dict, out_manifest: str) -> pd.DataFrame:
    """Copy (JPEG) or convert (PNG, FITS) the user's images; wrong sizes and unreadable files are counted."""
    from PIL import Image

    c = cfg["cutouts"]
    folder = Path(cfg["local"]["images"])
    if not folder.is_dir():
        raise FileNotFoundError(f"local.images: folder {folder} does not exist")
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards)
    out = Path(out_dir)
    results = []
    for obj_id in tqdm(rows["objID"], desc=f"import shard {shard}", unit="img", mininterval=2):
        src = find_local_image(folder, obj_id)
        dest = out / f"{obj_id}.jpg"
        if src is None:
            results.append(_row(obj_id, "missing", 0, None, f"no image {obj_id}.jpg/.png/.fits in {folder}"))
            continue
        try:
            arr = read_local_image(src, c["size"])
        except ImageError as err:
            results.append(_row(obj_id, "failed", 1, None, f"{src.name}: {err}"))
            continue
        if src.suffix.lower() in (".jpg", ".jpeg"):
            with files.atomic_path(dest) as tmp:
                shutil.copyfile(src, tmp)
        else:
            with files.atomic_path(dest) as tmp:
                Image.fromarray(arr).save(tmp, format="JPEG", quality=95)
        results.append(_row(obj_id, "ok", 1))
    manifest = pd.DataFrame(results, columns=MANIFEST_COLUMNS)
    files.write_csv(manifest, out_manifest)
    return manifest


def merge_manifests(catalog_csv: str, shard_csvs: list[str], out_csv: str, max_missing_fraction: float) -> dict:
    """One row per catalog galaxy; stop if too many galaxies have no cutout."""
    catalog = read_catalog(catalog_csv)
    manifest = pd.concat([pd.read_csv(p, dtype={"objID": "int64"}) for p in shard_csvs], ignore_index=True)
    if manifest["objID"].duplicated().any():
        raise RuntimeError("a galaxy appears in two cutout shards")
    missing_rows = set(catalog["objID"]) - set(manifest["objID"])
    if missing_rows:
        raise RuntimeError(f"{len(missing_rows)} catalog galaxies have no manifest row (stale shard files?)")
    manifest = manifest.sort_values("objID").reset_index(drop=True)
    files.write_csv(manifest, out_csv)
    counts = manifest["status"].value_counts().to_dict()
    n = len(manifest)
    missing = n - counts.get("ok", 0)
    summary = {"galaxies": n, "by_status": counts, "missing_fraction": missing / max(n, 1)}
    log.info("cutouts: %s", summary)
    if n and missing / n > max_missing_fraction:
        raise RuntimeError(
            f"{missing} of {n} galaxies ({missing / n:.1%}) have no cutout, more than "
            f"cutouts.max_missing_fraction={max_missing_fraction}; see {out_csv} (status, error columns)"
        )
    return summary


