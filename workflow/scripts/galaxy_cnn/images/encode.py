"""Encoding: g, r, i fluxes to RGB colours (the Lupton asinh stretch) and RGB to JPEG.

The synthetic renderer and FITS decoding share the stretch; every JPEG the workflow writes comes
from `jpeg_of`. The renderer's digest covers this file: a change here remakes synthetic cutouts.
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


def jpeg_of(rgb: np.ndarray, quality: int = 95) -> bytes:
    """RGB uint8 as JPEG bytes at `quality`, with PIL's default subsampling and no optimisation."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
