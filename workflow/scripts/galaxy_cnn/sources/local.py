"""The user's own galaxies: a catalog CSV and a folder of JPEG, PNG or g, r, i FITS images."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd

from ..catalog import clean_catalog, read_catalog, write_catalog
from ..cutouts import CutoutResult, cutout_stamp, run_shard, shard_rows
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
    """objID plus the target columns `settings['targets']`; ra/dec optional (blank if invalid)."""
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
                f"local.catalog {path}: {blank} of {n} rows ({blank / n:.1%}) have no {col} "
                f"value, more than cutouts.max_missing_fraction={settings['max_missing_fraction']}"
            )
    meta = {"source": "local", "catalog": str(path.resolve()), "settings": settings}
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
    """Copy (RGB JPEG) or convert (anything else) the user's images; each problem is a manifest
    row, and a galaxy whose image went bad loses its old cutout."""
    source = _image_folder(settings["images"], folder)
    by_id, _ = index_image_folder(source)
    size = image["size"]
    return run_shard(
        shard_rows(read_catalog(catalog_csv), shard, n_shards),
        folder,
        out_manifest=out_manifest,
        size=size,
        stamp_of=lambda row: _stamp_of(
            int(row.objID), by_id.get(int(row.objID), []), source=source, image=image
        ),
        make=lambda row: _import_image(by_id[int(row.objID)][0], size),
        desc=f"import shard {shard}",
        clear_failed=True,
    )


def _image_folder(images: str, folder: str) -> Path:
    """The user's image folder, refused when it is the folder the cutouts are written to, since
    the user's images are never written over."""
    source = Path(images)
    if Path(folder).resolve() == source.resolve():  # e.g. results/cutouts linked to the user's
        raise InputError(
            f"local.images: {source} is the folder the workflow writes its cutouts to ({folder}); "
            "the user's images are never written over"
        )
    return source


def _stamp_of(obj_id: int, found: list[Path], *, source: Path, image: dict) -> str | CutoutResult:
    """What the galaxy's cutout must carry (its one image's file, size and time, so an edited
    image is imported again), or its manifest row when it has no image or several."""
    if not found:
        why = f"no image {obj_id}.jpg/.png/.fits in {source}"
        return CutoutResult("missing", 0, None, why)
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        why = f"several images for objID {obj_id}: {names}"
        return CutoutResult("failed", 0, None, why)
    try:
        st = found[0].stat()
        return cutout_stamp(
            source="local",
            file=str(found[0].resolve()),
            bytes=st.st_size,
            mtime_ns=st.st_mtime_ns,
            size=image["size"],
            scale=image["scale"],
        )
    except OSError as err:
        return _unreadable(found[0], err)


def _import_image(src: Path, size: int) -> CutoutResult:
    """The cutout of one user image: an RGB JPEG as it is (no second lossy encoding), anything
    else converted; an image that cannot be read is a failed row."""
    try:
        data = src.read_bytes()
        arr = read_local_image(src, size, data)
    except (ImageError, OSError) as err:
        return _unreadable(src, err)
    jpeg = data if data[:2] == b"\xff\xd8" and _is_rgb_jpeg(data) else jpeg_of(arr)
    return CutoutResult("ok", 1, None, "", jpeg)


def _unreadable(src: Path, err: Exception) -> CutoutResult:
    reason = str(err) if str(err).startswith(src.name) else f"{src.name}: {err}"
    return CutoutResult("failed", 1, None, reason)


def _is_rgb_jpeg(data: bytes) -> bool:
    """An RGB JPEG is copied byte for byte; greyscale or CMYK ones are converted to RGB first."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return im.mode == "RGB"
