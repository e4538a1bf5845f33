"""Image arrays: JPEG/PNG decoding, packing to one uint8 array, area downsampling, dihedral views."""

from __future__ import annotations

import io
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from . import files

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class ImageError(ValueError):
    """An image that cannot be used (unreadable, wrong size, wrong shape)."""


def decode_image(data: bytes | str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Decode a JPEG/PNG (bytes or path) to an RGB uint8 array (H, W, 3), checking its size."""
    try:
        if not isinstance(data, bytes):
            data = Path(data).read_bytes()  # one read, then decode from memory: faster than a file handle
        src = io.BytesIO(data)
        with Image.open(src) as im:
            im.load()  # raises on truncated data (PIL's default refuses truncated files)
            arr = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageError(f"cannot decode image: {err}") from err
    if size is not None and arr.shape[:2] != (size, size):
        raise ImageError(f"image is {arr.shape[1]}x{arr.shape[0]} px, expected {size}x{size}")
    return arr


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
    return _decode_many(paths, size, array[start : start + len(paths)])  # MAP_SHARED: no flush needed


def pack_images_to(paths: list[str], size: int, out_npy: str, workers: int = 1, chunk: int = 1024) -> list[str]:
    """Decode every image once into an (N, size, size, 3) uint8 .npy; errors per row ('' = ok).

    Workers write their rows into the memory-mapped file themselves, so no pixels pass
    through the parent process (the bottleneck at 100k+ images). Failed rows stay zero.
    """
    np.lib.format.open_memmap(out_npy, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)).flush()
    errors: list[str] = [""] * len(paths)
    starts = range(0, len(paths), chunk)
    with tqdm(total=len(paths), desc="pack", unit="img", mininterval=2) as bar:
        if workers <= 1:
            for s in starts:
                errors[s : s + chunk] = _decode_into_npy(out_npy, s, paths[s : s + chunk], size)
                bar.update(len(paths[s : s + chunk]))
        else:
            with ProcessPoolExecutor(workers) as pool:
                futures = {s: pool.submit(_decode_into_npy, out_npy, s, paths[s : s + chunk], size) for s in starts}
                for s, fut in futures.items():
                    errors[s : s + chunk] = fut.result()
                    bar.update(len(paths[s : s + chunk]))
    return errors


def pack_images(paths: list[str], size: int, workers: int = 1, chunk: int = 1024) -> tuple[np.ndarray, list[str]]:
    """In-memory variant of `pack_images_to` (tests, benchmarks, small sets)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "packed.npy")
        errors = pack_images_to(paths, size, npy, workers, chunk)
        return np.load(npy), errors


def pack_cutouts(
    manifest_csv: str, cutout_dir: str, size: int, out_npy: str, out_index: str, workers: int = 1
) -> dict:
    """Pack the `ok` cutouts of a manifest; unreadable ones are left out of the index and reported."""
    manifest = pd.read_csv(manifest_csv, dtype={"objID": "int64"})
    ok = manifest[manifest["status"] == "ok"].reset_index(drop=True)
    paths = [str(Path(cutout_dir) / f"{oid}.jpg") for oid in ok["objID"]]
    with files.atomic_path(out_npy) as tmp:
        errors = pack_images_to(paths, size, str(tmp), workers)
    good = np.array([e == "" for e in errors], bool)
    index = pd.DataFrame({"objID": ok["objID"][good].to_numpy(), "row": np.flatnonzero(good)})
    files.write_csv(index, out_index)
    rejected = {int(o): e for o, e, g in zip(ok["objID"], errors, good, strict=True) if not g}
    return {"packed": int(good.sum()), "undecodable": len(rejected), "rejected": rejected}


def load_packed(npy: str, index_csv: str, mmap: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    array = np.load(npy, mmap_mode="r" if mmap else None)
    index = pd.read_csv(index_csv, dtype={"objID": "int64"})
    rows = index["row"].to_numpy()
    if len(rows) and (rows.min() < 0 or rows.max() >= len(array) or len(np.unique(rows)) != len(rows)):
        raise ValueError(f"{index_csv}: its 'row' column does not index {npy} ({len(array)} images) one-to-one")
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
