"""Image arrays: JPEG/PNG decoding, packing to one uint8 array, area downsampling, dihedral views."""

from __future__ import annotations

import io
import logging
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from . import files
from .errors import InputError
from .listing import FITS_SUFFIXES, image_suffix


class ImageError(InputError):
    """An image that cannot be used (unreadable, wrong size, wrong shape)."""


def _to_rgb8(im: Image.Image) -> np.ndarray:
    """Any PIL image as RGB uint8: 16-bit scaled (not clipped), alpha dropped, grey and palette expanded."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.int64)
        if arr.min() < 0 or arr.max() > 65535:
            raise ImageError(
                f"{im.mode} image with values outside 0..65535 (range {arr.min()}..{arr.max()})"
            )
        grey = np.floor(arr / 257 + 0.5).astype(np.uint8)  # 65535 -> 255: a scaling, not a clip
        return np.repeat(grey[..., None], 3, axis=-1)
    if im.mode == "F":
        raise ImageError("floating-point image: give 8- or 16-bit JPEG/PNG, or a g, r, i FITS cube")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA").convert("RGB")  # drops alpha; the colours stay as stored
    return np.asarray(im if im.mode == "RGB" else im.convert("RGB"))


def decode_image(
    data: bytes | str | os.PathLike, size: int | None = None, name: str | None = None
) -> np.ndarray:
    """Decode a JPEG/PNG (bytes or path) to an RGB uint8 array (H, W, 3), checking its size.

    Errors name the file (`name`, or the path when one is given), never a memory buffer.
    """
    if not isinstance(data, bytes):
        name = name or str(data)
        try:
            data = Path(
                data
            ).read_bytes()  # one read, then decode from memory: faster than a file handle
        except OSError as err:
            raise ImageError(f"{name}: cannot read: {err.strerror or err}") from err
    where = f"{name}: " if name else ""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # raises on truncated data (PIL's default refuses truncated files)
            arr = _to_rgb8(im)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        if isinstance(err, ImageError):
            raise ImageError(f"{where}{err}") from err
        reason = (
            re.sub(r"\s*<_io\.BytesIO object at 0x[0-9a-f]+>", "", str(err)) or type(err).__name__
        )
        raise ImageError(f"{where}not a readable JPEG or PNG image ({reason})") from err
    if size is not None and arr.shape[:2] != (size, size):
        raise ImageError(
            f"{where}image is {arr.shape[1]}x{arr.shape[0]} px, expected {size}x{size}"
        )
    return arr


def jpeg_of(rgb: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def index_image_folder(folder: str | os.PathLike) -> tuple[dict[int, list[Path]], dict[str, str]]:
    """Image files by the objID their name gives (`{objID}.jpg/.jpeg/.png/.fits/.fit/.fits.gz`, any
    case), in one directory scan; and {file name: reason} for image files whose name is no objID.

    Several files can give one objID (`X.jpg` beside `X.png`, or `0X.jpg`): callers refuse those.
    """
    from .catalog import id_problem

    by_id: dict[int, list[Path]] = {}
    unnamed: dict[str, str] = {}
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            suffix = image_suffix(entry.name)  # the files the rerun digest lists, and only those
            if suffix is None:
                continue
            try:
                regular = entry.is_file()  # follows links; False for pipes, devices, folders
            except OSError:
                regular = False
            if not regular:
                unnamed[entry.name] = "not a regular file (a folder, pipe, device or broken link)"
                continue
            stem = entry.name[: -len(suffix)]
            if id_problem(stem):
                unnamed[entry.name] = "file name is not an objID (expected {objID}" + suffix + ")"
                continue
            by_id.setdefault(int(stem), []).append(Path(entry.path))
    return by_id, unnamed


def fits_to_rgb(path: Path, size: int) -> np.ndarray:
    """A g, r, i FITS cube (3, H, W) in flux units to SkyServer-like RGB uint8 (i, r, g -> R, G, B)."""
    from astropy.io import fits

    from .synthetic import RenderSettings, asinh_rgb

    try:
        with fits.open(path) as hdul:
            cube = next((h.data for h in hdul if h.data is not None), None)
            cube = None if cube is None else np.array(cube, dtype=float)
    except (OSError, ValueError, TypeError) as err:
        raise ImageError(f"cannot read FITS: {err}") from err
    if cube is None or cube.ndim != 3 or 3 not in (cube.shape[0], cube.shape[-1]):
        raise ImageError(
            f"FITS data must be a (3, H, W) g, r, i cube, got shape {getattr(cube, 'shape', None)}"
        )
    if cube.shape[0] != 3:
        cube = cube.transpose(2, 0, 1)
    if cube.shape[1:] != (size, size):
        raise ImageError(f"image is {cube.shape[2]}x{cube.shape[1]} px, expected {size}x{size}")
    finite = np.isfinite(cube)
    if not finite.any():
        raise ImageError("FITS cube has no finite pixel values")
    bad = [b for b, plane in zip("gri", finite, strict=True) if plane.mean() < 0.5]
    if bad:
        raise ImageError(
            f"FITS band(s) {', '.join(bad)} are mostly NaN or infinite ({(~finite).mean():.0%} of pixels)"
        )
    g, r, i = np.nan_to_num(cube, nan=0.0, posinf=0.0, neginf=0.0)
    return (np.clip(asinh_rgb(i, r, g, RenderSettings()), 0, 1) * 255 + 0.5).astype(np.uint8)


def read_local_image(path: Path, size: int | None, data: bytes | None = None) -> np.ndarray:
    """A user's JPEG, PNG or g, r, i FITS cube as RGB uint8, checked to be size x size px."""
    if path.name.lower().endswith(FITS_SUFFIXES):
        if size is None:
            raise ImageError("FITS input needs the cutout size")
        return fits_to_rgb(path, size)
    return decode_image(path.read_bytes() if data is None else data, size)


def _decode_many(paths: list[str], size: int, out: np.ndarray) -> list[str]:
    """Decode `paths` into `out` (rows zero-filled where an image fails); errors per row."""
    errors = [""] * len(paths)
    for i, p in enumerate(paths):
        try:
            out[i] = decode_image(p, size)
        except (ImageError, FileNotFoundError) as err:
            errors[i] = str(err)
            out[i] = 0
    return errors


def _decode_into_npy(npy: str, start: int, paths: list[str], size: int) -> list[str]:
    """Worker: decode straight into rows [start, start + len(paths)) of a memory-mapped .npy."""
    array = np.load(npy, mmap_mode="r+")
    return _decode_many(
        paths, size, array[start : start + len(paths)]
    )  # MAP_SHARED: no flush needed


def pack_images_to(
    paths: list[str], size: int, out_npy: str, workers: int = 1, chunk: int = 1024
) -> list[str]:
    """Decode every image once into an (N, size, size, 3) uint8 .npy; errors per row ('' = ok).

    Workers write their rows into the memory-mapped file themselves, so no pixels pass
    through the parent process (the bottleneck at 100k+ images). Failed rows stay zero.
    """
    np.lib.format.open_memmap(
        out_npy, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)
    ).flush()
    errors: list[str] = [""] * len(paths)
    starts = range(0, len(paths), chunk)
    with tqdm(total=len(paths), desc="pack", unit="img", mininterval=2) as bar:
        if workers <= 1:
            for s in starts:
                errors[s : s + chunk] = _decode_into_npy(out_npy, s, paths[s : s + chunk], size)
                bar.update(len(paths[s : s + chunk]))
        else:
            with ProcessPoolExecutor(workers) as pool:
                futures = {
                    s: pool.submit(_decode_into_npy, out_npy, s, paths[s : s + chunk], size)
                    for s in starts
                }
                for s, fut in futures.items():
                    errors[s : s + chunk] = fut.result()
                    bar.update(len(paths[s : s + chunk]))
    return errors


def pack_images(
    paths: list[str], size: int, workers: int = 1, chunk: int = 1024
) -> tuple[np.ndarray, list[str]]:
    """In-memory variant of `pack_images_to` (tests, benchmarks, small sets)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "packed.npy")
        errors = pack_images_to(paths, size, npy, workers, chunk)
        return np.load(npy), errors


def pack_cutouts(
    manifest_csv: str,
    manifest_json: str,
    excluded_csv: str,
    cutout_dir: str,
    size: int,
    out_npy: str,
    out_index: str,
    out_report: str,
    workers: int = 1,
) -> dict:
    """Pack the `ok` cutouts of a manifest; unreadable ones are left out of the index and reported.

    Then the funnel check: galaxies lost since the catalog (listed in `excluded_csv`) plus the
    undecodable ones must stay within the `max_missing_fraction` the cutouts stage recorded.
    """
    from . import provenance

    manifest = pd.read_csv(manifest_csv, dtype={"objID": "int64"})
    ok = manifest[manifest["status"] == "ok"].reset_index(drop=True)
    paths = [str(Path(cutout_dir) / f"{oid}.jpg") for oid in ok["objID"]]
    with files.atomic_path(out_npy) as tmp:
        errors = pack_images_to(paths, size, str(tmp), workers)
    good = np.array([e == "" for e in errors], bool)
    index = pd.DataFrame({"objID": ok["objID"][good].to_numpy(), "row": np.flatnonzero(good)})
    files.write_csv(index, out_index)
    rejected = {int(o): e for o, e, g in zip(ok["objID"], errors, good, strict=True) if not g}
    cutouts = files.read_json(manifest_json)
    report = {
        "packed": int(good.sum()),
        "undecodable": len(rejected),
        "rejected": rejected,
        "size": size,
        "cutouts": {"source": cutouts["source"]} | cutouts["image"],
        "provenance": provenance.collect(),
    }
    from .funnel import check_excluded

    counts = cutouts["excluded_by_reason"] | (
        {"undecodable cutout": len(rejected)} if rejected else {}
    )
    report["excluded_so_far"] = check_excluded(
        counts,
        cutouts["galaxies_read"],
        cutouts["max_missing_fraction"],
        excluded_csv + (" (undecodable ones: the pack log)" if rejected else ""),
    )
    if rejected:
        logging.getLogger(__name__).warning("undecodable cutouts: %s", rejected)
    files.write_json(report, out_report)
    return report


def load_packed(npy: str, index_csv: str, mmap: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    array = np.load(npy, mmap_mode="r" if mmap else None)
    index = pd.read_csv(index_csv, dtype={"objID": "int64"})
    rows = index["row"].to_numpy()
    if len(rows) and (
        rows.min() < 0 or rows.max() >= len(array) or len(np.unique(rows)) != len(rows)
    ):
        raise ValueError(
            f"{index_csv}: its 'row' column does not index {npy} ({len(array)} images) one-to-one"
        )
    return array, index


def downsample(images: np.ndarray, size: int, chunk: int = 4096) -> np.ndarray:
    """Area-average (N, H, W, C) uint8 images to (N, size, size, C) uint8, as cv2.INTER_AREA.

    Integer factors only: the exact block mean, rounded half up like OpenCV's fixed-point path.
    """
    n, h, w, c = images.shape
    if h == size and w == size:
        return np.array(images)
    if h % size or w % size or h != w:
        raise ValueError(f"cannot area-average {h}x{w} px to {size} px: not an integer factor")
    f = h // size
    out = np.empty((n, size, size, c), np.uint8)
    for s in range(0, n, chunk):
        blocks = np.asarray(images[s : s + chunk]).reshape(-1, size, f, size, f, c)
        mean = blocks.mean(axis=(2, 4), dtype=np.float32)
        out[s : s + chunk] = np.floor(mean + 0.5).clip(0, 255)
    return out
