"""Decoding: a user's or SkyServer's JPEG, PNG or g, r, i FITS cube to RGB uint8, checked."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..listing import FITS_SUFFIXES
from .encode import asinh_rgb


class ImageError(InputError):
    """An image that cannot be used (unreadable, wrong size, wrong shape)."""


def _to_rgb8(im: Image.Image) -> np.ndarray:
    """Any PIL image as RGB uint8: 16-bit scaled (not clipped), alpha dropped, grey and palette
    expanded."""
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
            # one read, then decode from memory: faster than a file handle
            data = Path(data).read_bytes()
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


def _read_fits_cube(path: Path, size: int) -> np.ndarray:
    """The first data of a FITS file as a finite (3, size, size) g, r, i cube, or ImageError."""
    from astropy.io import fits

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
            f"FITS band(s) {', '.join(bad)} are mostly NaN or infinite "
            f"({(~finite).mean():.0%} of pixels)"
        )
    return np.nan_to_num(cube, nan=0.0, posinf=0.0, neginf=0.0)


def fits_to_rgb(path: Path, size: int) -> np.ndarray:
    """A g, r, i FITS cube (3, H, W) in flux units to SkyServer-like RGB uint8 (i, r, g -> R, G,
    B), with the stretch the synthetic cutouts get by default."""
    g, r, i = _read_fits_cube(path, size)
    return (np.clip(asinh_rgb(i, r, g), 0, 1) * 255 + 0.5).astype(np.uint8)


def read_local_image(path: Path, size: int | None, data: bytes | None = None) -> np.ndarray:
    """A user's JPEG, PNG or g, r, i FITS cube as RGB uint8, checked to be size x size px."""
    if path.name.lower().endswith(FITS_SUFFIXES):
        if size is None:
            raise ImageError("FITS input needs the cutout size")
        return fits_to_rgb(path, size)
    return decode_image(path.read_bytes() if data is None else data, size)
