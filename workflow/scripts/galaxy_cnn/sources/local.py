"""The user's own galaxies: a catalog CSV and a folder of JPEG, PNG or g, r, i FITS images."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

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
from ..errors import CatalogError, InputError, TooManyExcluded
from ..images import ImageError, index_image_folder, jpeg_of, read_local_image

log = logging.getLogger(__name__)


def read_user_csv(path: Path, key: str) -> pd.DataFrame:
    """A user's CSV as strings (IDs stay exact), with a clear error for what pandas cannot read."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as err:
        raise CatalogError(f"{key}: {path} is empty") from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as err:
        raise CatalogError(
            f"{key}: cannot read {path} as CSV ({str(err).splitlines()[0]})"
        ) from err
    with open(path, newline="", encoding="utf-8-sig") as f:  # pandas renames repeated columns (x.1)
        header = [c.strip() for c in next(csv.reader(f), [])]
    raw.columns = [str(c).strip() for c in raw.columns]
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise CatalogError(f"{key}: {path} has the column(s) {dup} more than once")
    if raw.empty:
        raise CatalogError(f"{key}: {path} has a header but no data rows")
    return raw


def build_catalog(inputs: dict, settings: dict, outputs: dict) -> dict:
    """objID plus the target columns `settings['targets']`; ra/dec optional (blanked where invalid)."""
    path = Path(inputs["user_catalog"])
    raw = read_user_csv(path, "local.catalog")
    targets = settings["targets"]
    missing = [c for c in ["objID", *targets] if c not in raw.columns]
    if missing:
        raise CatalogError(
            f"local.catalog {path} lacks column(s) {missing}; it has {list(raw.columns)}"
        )
    df, report, rejected = clean_catalog(
        raw,
        require_coords=False,
        numeric=tuple(targets),
        on_bad_value=settings["on_bad_value"],
        name=f"local.catalog {path}",
        conflicts=tuple(targets),
    )
    if {"ra", "dec"} <= set(df.columns):  # optional here: no stage of a local run needs them
        ra, dec = (
            pd.to_numeric(df["ra"], errors="coerce"),
            pd.to_numeric(df["dec"], errors="coerce"),
        )
        bad = ~((ra >= 0) & (ra < 360) & (dec >= -90) & (dec <= 90))
        df["ra"], df["dec"] = ra.mask(bad), dec.mask(bad)
        report["coordinates_blank_or_invalid"] = int(bad.sum())
    n = len(df)
    for col in targets:
        blank = int(df[col].isna().sum())
        report[f"missing_{col}"] = blank
        if n and blank / n > settings["max_missing_fraction"]:
            raise TooManyExcluded(
                f"local.catalog {path}: {blank} of {n} rows ({blank / n:.1%}) have no {col} value, more than "
                f"cutouts.max_missing_fraction={settings['max_missing_fraction']}"
            )
    meta = {"source": "local", "catalog": str(path.resolve()), "settings": settings}
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
    """Copy (RGB JPEG) or convert (anything else) the user's images; every problem is a manifest row."""
    size = image["size"]
    source = Path(settings["images"])
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards)
    out = Path(folder)
    if out.resolve() == source.resolve():  # e.g. results/cutouts linked to the user's folder
        raise InputError(
            f"local.images: {source} is the folder the workflow writes its cutouts to ({folder}); "
            "the user's images are never written over"
        )
    by_id, _ = index_image_folder(source)
    out.mkdir(parents=True, exist_ok=True)
    files.remove_stale_parts(out, {f"{int(o)}.jpg" for o in rows["objID"]})
    results = []
    for obj_id in tqdm(rows["objID"], desc=f"import shard {shard}", unit="img", mininterval=2):
        found = by_id.get(int(obj_id), [])
        dest = out / f"{obj_id}.jpg"
        if not found:
            results.append(
                manifest_row(
                    obj_id, "missing", 0, None, f"no image {obj_id}.jpg/.png/.fits in {source}"
                )
            )
            continue
        if len(found) > 1:
            dest.unlink(missing_ok=True)
            names = ", ".join(p.name for p in found)
            results.append(
                manifest_row(
                    obj_id, "failed", 0, None, f"several images for objID {obj_id}: {names}"
                )
            )
            continue
        src = found[0]
        try:
            st = src.stat()
            stamp = cutout_stamp(
                source="local",
                file=str(src.resolve()),
                bytes=st.st_size,
                mtime_ns=st.st_mtime_ns,
                size=size,
                scale=image["scale"],
            )
            if is_verified(dest, size, stamp):
                results.append(manifest_row(obj_id, "ok", 0))
                continue
            data = src.read_bytes()
            arr = read_local_image(src, size, data)
        except (ImageError, OSError) as err:
            dest.unlink(missing_ok=True)
            reason = str(err) if str(err).startswith(src.name) else f"{src.name}: {err}"
            results.append(manifest_row(obj_id, "failed", 1, None, reason))
            continue
        jpeg = data if data[:2] == b"\xff\xd8" and _is_rgb_jpeg(data) else jpeg_of(arr)
        files.write_bytes(dest, stamp_jpeg(jpeg, stamp))
        results.append(manifest_row(obj_id, "ok", 1))
    return write_manifest(results, out_manifest)


def _is_rgb_jpeg(data: bytes) -> bool:
    """An RGB JPEG is copied byte for byte; greyscale or CMYK ones are converted to RGB first."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.mode == "RGB"
