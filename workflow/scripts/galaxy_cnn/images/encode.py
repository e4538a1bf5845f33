"""Encoding: band fluxes to RGB colours and RGB to JPEG.

Two families of colour mapping: SkyServer's (the Lupton asinh stretch of g, r, i), shared by the
synthetic SDSS renderer and FITS decoding, and the Legacy Surveys viewer's (per layer), shared by
its client and the synthetic Legacy Surveys renderer. Every JPEG the workflow writes comes from
`jpeg_of`. The renderer's digest covers this file: a change here remakes synthetic cutouts.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

# SkyServer-like stretch, calibrated against real cutouts (docs/synthetic-universe.md)
BAND_SCALE = (1.45, 1.08, 0.93)  # g, r, i multipliers before the stretch
SOFTENING = 20.0  # alpha*Q of Lupton et al. (2004): linear below ~1/softening nMgy
Q = 5.0
BRIGHTNESS = 0.8


def asinh_rgb(
    i: np.ndarray,
    r: np.ndarray,
    g: np.ndarray,
    *,
    band_scale: tuple[float, float, float] = BAND_SCALE,
    softening: float = SOFTENING,
    q: float = Q,
    brightness: float = BRIGHTNESS,
) -> np.ndarray:
    """Lupton et al. (2004) colour-preserving asinh stretch: i, r, g (nMgy) -> R, G, B in [0, 1]."""
    s = band_scale
    chans = np.stack([i * s[2], r * s[1], g * s[0]])
    mean = chans.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(mean > 1e-9, np.arcsinh(softening * mean) / (q * mean), softening / q)
    rgb = np.clip(chans * factor * brightness, 0, None)
    peak = rgb.max(axis=0)
    rgb = np.where(peak > 1, rgb / np.maximum(peak, 1e-9), rgb)  # clip keeping the colour
    return rgb.transpose(1, 2, 0)


# The Legacy Surveys viewer's mappings (github.com/legacysurvey/imagine at 8402fc35, map/views.py)
# sdss_rgb: band -> (RGB plane, scale); dr2_rgb and LsDr10Layer.get_rgb override some.
SDSS_SCALES = {"u": (2, 1.5), "g": (2, 2.5), "r": (1, 1.5), "i": (0, 1.0), "z": (0, 0.4)}
DR2_SCALES = {"g": (2, 6.0), "r": (1, 3.4), "z": (0, 2.2)}
DR10_STRETCH = 1.5
DR10_SCALES = {
    b: (p, s * DR10_STRETCH) for b, (p, s) in {"g": (2, 6.0), "r": (1, 3.4), "i": (0, 3.0)}.items()
} | {"z": (0, 2.2 * DR10_STRETCH)}
DR10_RGBVEC = {
    "g": (0.0, 0.0, 0.75),
    "r": (0.0, 0.5, 0.25),
    "i": (0.25, 0.5, 0.0),
    "z": (0.75, 0.0, 0.0),
}


def _stretched_mean(
    imgs: list[np.ndarray], bands: str, scales: dict, m: float, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """The viewer's mean intensity over the bands and its asinh stretch (kept apart: the callers
    divide in their own order, as the viewer does)."""
    mean = 0
    for img, band in zip(imgs, bands, strict=True):
        mean = mean + np.maximum(0, img * scales[band][1] + m)
    mean = mean / len(bands)
    f_mean = np.arcsinh(q * mean) / np.sqrt(q)
    return f_mean, mean + (mean == 0.0) * 1e-6


def viewer_sdss_rgb(
    imgs: list[np.ndarray],
    bands: str,
    *,
    scales: dict | None = None,
    m: float = 0.02,
    q: float = 20.0,
) -> np.ndarray:
    """views.sdss_rgb: asinh stretch of the mean intensity; each band sets one plane."""
    rgbscales = SDSS_SCALES | (scales or {})
    f_mean, mean = _stretched_mean(imgs, bands, rgbscales, m, q)
    rgb = np.zeros(mean.shape + (3,), np.float32)
    for img, band in zip(imgs, bands, strict=True):
        plane, scale = rgbscales[band]
        rgb[:, :, plane] = (img * scale + m) * f_mean / mean
    return np.clip(rgb, 0, 1)


def viewer_ls_dr10_rgb(
    imgs: list[np.ndarray], bands: str, *, m: float = 0.03, q: float = 20.0
) -> np.ndarray:
    """LsDr10Layer.get_rgb (griz layers): asinh stretch; each band adds to several planes."""
    f_mean, mean = _stretched_mean(imgs, bands, DR10_SCALES, m, q)
    gain = f_mean / mean
    rgb = np.zeros(gain.shape + (3,), np.float32)
    for img, band in zip(imgs, bands, strict=True):
        v = np.clip((img * DR10_SCALES[band][1] + m) * gain, 0, 1)
        for plane, weight in enumerate(DR10_RGBVEC[band]):
            if weight:
                rgb[:, :, plane] += weight * v
    return rgb


def rgb_to_uint8(rgb: np.ndarray) -> np.ndarray:
    """0..1 floats to bytes as the viewer's save_jpeg (matplotlib imsave) does: truncation."""
    return (np.clip(np.nan_to_num(rgb), 0, 1) * 255).astype(np.uint8)


def jpeg_of(rgb: np.ndarray, quality: int = 95) -> bytes:
    """RGB uint8 as JPEG bytes at `quality`, with PIL's default subsampling and no optimisation."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
