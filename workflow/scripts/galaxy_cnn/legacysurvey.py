"""Legacy Surveys viewer client: `cutout.jpg` and `cutout.fits` from legacysurvey.org/viewer.

The viewer (github.com/legacysurvey/imagine, read at 8402fc35; tests/fake_viewer.py cites each
function) does not say "no data" the way a client would hope:

* a JPEG outside a layer's footprint is rendered from all-zero bands and sent with HTTP 200; a
  partly covered JPEG or FITS has zero-filled pixels. The zero bands render to a layer- and
  band-dependent colour (grey 32 for ls-dr10 griz, grey 22 for sdss, (8, 32, 32) for ls-dr10
  gri), so a blank answer is found by comparing pixels with that colour, not with black;
* a FITS cutout with no overlap raises `NoOverlapError`, which nobody catches: the answer is
  Django's generic HTTP 500 page (production has DEBUG off), indistinguishable from a transient
  server error, so a FITS 500 is checked once against the JPEG of the same field;
* an unknown layer is `HttpResponse('no such layer')` (HTTP 200), unknown bands silently fall
  back to the layer's defaults, and sizes above 3000 px are silently clipped: this client
  checks its parameters before asking and the answer's shape and bands after.

No rate limit is documented, so the client keeps to `requests_per_second` across all threads.
"""

from __future__ import annotations

import io
import logging
import math
import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import requests

from .cutouts import CutoutResult
from .images import ImageError, decode_image, jpeg_of
from .images.encode import (
    DR2_SCALES,
    DR10_SCALES,
    rgb_to_uint8,
    viewer_ls_dr10_rgb,
    viewer_sdss_rgb,
)
from .layers import MAX_SIZE, bands_problem, layer_info
from .skyserver import RateLimiter, Retry

log = logging.getLogger(__name__)

VIEWER_URL = "https://www.legacysurvey.org/viewer"
PATHS = {"jpeg": "/cutout.jpg", "fits": "/cutout.fits"}
DEFAULT_SIZE = 256  # MapLayer.get_cutout: size default
DEFAULT_MAX_BLANK_FRACTION = 0.01
BLANK_TOLERANCE = 4  # DN per channel: JPEG (quality 90) noise on a flat patch is 0-2 DN
BLANK_PATCH = 4  # px: blank runs are at least this wide; sky noise never is this flat
USER_AGENT = "galaxy-cnn (Wu & Boada 2019 reproduction; Legacy Surveys cutouts)"


class ViewerError(RuntimeError):
    """A failure worth retrying (server error, timeout, truncated body, HTML page)."""


class ViewerRejected(RuntimeError):
    """An answer that a retry will not change (4xx, unknown layer, wrong bands or size)."""


def bands_to_rgb(cube: np.ndarray, bands: str, layer: str = "ls-dr10") -> np.ndarray:
    """The viewer's RGB (H, W, 3) floats in 0..1 for a band cube (n_bands, H, W), as that
    layer's JPEG cutouts render it, so FITS and JPEG cutouts give the same picture."""
    info = layer_info(layer)
    cube = np.asarray(cube, np.float32)
    if cube.ndim == 2:
        cube = cube[None]
    if cube.ndim != 3 or cube.shape[0] != len(bands):
        raise ValueError(f"cube of shape {cube.shape} does not hold the {len(bands)} bands {bands}")
    unknown = [b for b in bands if b not in info.bands]
    if unknown:
        raise ValueError(f"layer {layer} has no band(s) {unknown} (it has {info.bands})")
    imgs = list(np.nan_to_num(cube, nan=0.0, posinf=0.0, neginf=0.0))
    if info.mapping == "ls-dr10":
        return viewer_ls_dr10_rgb(imgs, bands)
    if info.mapping == "ls-dr10-gri":
        return viewer_sdss_rgb(imgs, bands, scales=DR10_SCALES)
    if info.mapping == "dr2":
        return viewer_sdss_rgb(imgs, bands, scales=DR2_SCALES, m=0.03)
    return viewer_sdss_rgb(imgs, bands)


def blank_rgb(layer: str, bands: str | None = None) -> np.ndarray:
    """The colour (3 uint8) that the layer renders where every band is zero (no data)."""
    bands = bands or layer_info(layer).bands
    return rgb_to_uint8(bands_to_rgb(np.zeros((len(bands), 1, 1), np.float32), bands, layer))[0, 0]


def _opening(mask: np.ndarray, k: int) -> np.ndarray:
    """Pixels of `mask` inside some k x k square that is all `mask` (binary opening)."""
    h, w = mask.shape
    if h < k or w < k:
        return mask if mask.all() else np.zeros_like(mask)
    c = np.pad(mask.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    full = (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) == k * k
    f = np.pad(full.astype(np.int32), k - 1)
    c = np.pad(f.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) > 0


def blank_fraction(
    rgb: np.ndarray,
    layer: str,
    bands: str | None = None,
    *,
    tol: int = BLANK_TOLERANCE,
    patch: int = BLANK_PATCH,
) -> float:
    """Fraction of an RGB uint8 cutout that is the layer's no-data colour.

    A pixel counts when it is within `tol` of that colour and lies in a flat `patch` x `patch`
    square of such pixels: zero-filled areas are flat, while real sky scatters around the same
    colour (it is the render of zero flux plus noise) and is never flat over a patch.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB array, got shape {rgb.shape}")
    near = np.all(np.abs(rgb.astype(np.int16) - blank_rgb(layer, bands)) <= tol, axis=2)
    if near.all():
        return 1.0
    return float(_opening(near, patch).mean())


def cube_blank_fraction(cube: np.ndarray) -> float:
    """Fraction of a band cube's pixels with no data in any band (zero-filled or not finite)."""
    cube = np.asarray(cube)
    if cube.ndim == 2:
        cube = cube[None]
    empty = np.all((cube == 0) | ~np.isfinite(cube), axis=0)
    return float(empty.mean())


def _text_excerpt(body: bytes, limit: int = 200) -> str:
    """A readable excerpt of an HTML or text body: tags dropped, whitespace collapsed."""
    text = body[:20000].decode("utf-8", "replace")
    text = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:limit] + ("..." if len(text) > limit else "")


def _retry_after(resp: requests.Response) -> float:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return 0.0


@dataclass
class _Outcome:
    """One attempt's verdict: a result to return, or a reason to retry."""

    result: CutoutResult | None = None
    retry_reason: str = ""
    wait: float = 0.0


class ViewerClient:
    """Fetches Legacy Surveys viewer cutouts as RGB JPEG bytes; thread-safe, one session per
    thread, one rate limit for all threads.

    `fmt="jpeg"` keeps the viewer's own JPEG; `fmt="fits"` asks for the band cube and renders it
    with the layer's mapping (`bands_to_rgb`), which keeps the raw fluxes' precision until the
    client's JPEG encoding. A cutout more than `max_blank_fraction` blank is `outside_footprint`.
    The default tolerates a sliver (1% of 128 px is 1.3 columns) that blank detection may
    mis-measure at a JPEG edge; anything larger is a visible no-data band a CNN would learn from.
    """

    def __init__(
        self,
        url: str = VIEWER_URL,
        *,
        layer: str = "ls-dr10",
        size: int = DEFAULT_SIZE,
        pixscale: float | None = None,
        bands: str | None = None,
        fmt: str = "jpeg",
        timeout: float = 60.0,
        retry: Retry | None = None,
        requests_per_second: float = 2.0,
        max_blank_fraction: float = DEFAULT_MAX_BLANK_FRACTION,
    ):
        self.layer = layer_info(layer)
        if fmt not in PATHS:
            raise ValueError(f"fmt must be one of {sorted(PATHS)}, got {fmt!r}")
        if not isinstance(size, int | np.integer) or not 1 <= size <= MAX_SIZE:
            raise ValueError(
                f"size must be an integer in 1..{MAX_SIZE} px (the viewer clips larger sizes "
                f"to {MAX_SIZE} without saying so), got {size!r}"
            )
        pixscale = self.layer.pixscale if pixscale is None else float(pixscale)
        if not (math.isfinite(pixscale) and pixscale > 0):
            raise ValueError(f"pixscale must be a positive number of arcsec/px, got {pixscale!r}")
        bands = self.layer.bands if bands is None else str(bands)
        if problem := bands_problem(layer, bands):
            raise ValueError(problem)
        if not 0 <= max_blank_fraction < 1:
            raise ValueError(f"max_blank_fraction must be in [0, 1), got {max_blank_fraction}")
        if not requests_per_second > 0:
            raise ValueError(
                f"requests_per_second must be > 0 (no rate limit is documented; stay polite), "
                f"got {requests_per_second}"
            )
        self.base = url.rstrip("/")
        self.size, self.pixscale, self.bands, self.fmt = int(size), pixscale, bands, fmt
        self.timeout, self.retry = timeout, retry or Retry()
        self.max_blank_fraction = max_blank_fraction
        self.limiter = RateLimiter(requests_per_second)
        self.blank = blank_rgb(self.layer.name, bands)
        self.local = threading.local()

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers["User-Agent"] = USER_AGENT
        return self.local.session

    def params(self, ra: float, dec: float) -> dict[str, str]:
        """The query string, with the viewer's own parameter names (MapLayer.get_cutout)."""
        return {
            "ra": f"{ra:.7f}",
            "dec": f"{dec:.7f}",
            "layer": self.layer.name,
            "pixscale": f"{self.pixscale:.6g}",
            "size": str(self.size),
            "bands": self.bands,
        }

    def _get(self, fmt: str, params: dict[str, str]) -> requests.Response:
        self.limiter.wait()
        return self._session().get(self.base + PATHS[fmt], params=params, timeout=self.timeout)

    def fetch(self, ra: float, dec: float) -> CutoutResult:
        """One cutout: ok (JPEG bytes, RGB, size x size), outside_footprint or failed."""
        if not (math.isfinite(ra) and math.isfinite(dec) and -90 <= dec <= 90):
            return CutoutResult("failed", 0, None, f"bad position ra={ra!r}, dec={dec!r}")
        params = self.params(ra, dec)
        status, error, probed = None, "", False
        for attempt in range(1, self.retry.attempts + 1):
            wait = 0.0
            try:
                resp = self._get(self.fmt, params)
                status = resp.status_code
                if self.fmt == "fits" and status >= 500 and not probed:
                    probed = True
                    verdict = self._no_overlap(resp, params, attempt)
                    if verdict is not None:
                        return verdict
                outcome = self._judge(resp, attempt)
                if outcome.result is not None:
                    return outcome.result
                error, wait = outcome.retry_reason, outcome.wait
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as err:
                error = f"{type(err).__name__}: {err}"
            if attempt < self.retry.attempts:
                delay = max(self.retry.delay(attempt), min(wait, self.retry.max_delay))
                log.info(
                    "cutout %s attempt %d failed (%s); retry in %.1f s",
                    params,
                    attempt,
                    error,
                    delay,
                )
                time.sleep(delay)
        return CutoutResult(
            "failed", self.retry.attempts, status, f"after {self.retry.attempts} attempts: {error}"
        )

    def _no_overlap(
        self, resp: requests.Response, params: dict[str, str], attempt: int
    ) -> CutoutResult | None:
        """A FITS 5xx that is the viewer's NoOverlapError: named in a DEBUG traceback page, or
        (generic 500 page) confirmed by a blank JPEG of the same field. None if not."""
        where = f"outside the {self.layer.name} footprint"
        if b"NoOverlapError" in resp.content[:200_000]:
            return CutoutResult(
                "outside_footprint", attempt, resp.status_code, f"FITS: NoOverlapError ({where})"
            )
        try:
            probe = self._get("jpeg", params)
            if probe.status_code != 200 or not probe.content.startswith(b"\xff\xd8"):
                return None
            rgb = decode_image(probe.content, self.size)
        except (requests.RequestException, ImageError):
            return None
        if blank_fraction(rgb, self.layer.name, self.bands) < 1.0:
            return None
        return CutoutResult(
            "outside_footprint",
            attempt,
            resp.status_code,
            f"FITS: HTTP {resp.status_code} and the JPEG of the same field is blank: no overlap "
            f"({where})",
        )

    def _judge(self, resp: requests.Response, attempt: int) -> _Outcome:
        status, body = resp.status_code, resp.content
        if status == 429:
            return _Outcome(retry_reason="HTTP 429: throttled", wait=_retry_after(resp))
        if 400 <= status < 500:
            return _Outcome(
                CutoutResult("failed", attempt, status, f"HTTP {status}: {_text_excerpt(body)}")
            )
        if status != 200:
            return _Outcome(
                retry_reason=f"HTTP {status}: {_text_excerpt(body, 120)}", wait=_retry_after(resp)
            )
        try:
            rgb, cube = self._decode(body)
        except ViewerRejected as err:
            return _Outcome(CutoutResult("failed", attempt, status, str(err)))
        except (ViewerError, ImageError) as err:
            return _Outcome(retry_reason=f"{type(err).__name__}: {err}")
        frac = (
            cube_blank_fraction(cube)
            if cube is not None
            else blank_fraction(rgb, self.layer.name, self.bands)
        )
        if frac >= 1.0:
            return _Outcome(
                CutoutResult(
                    "outside_footprint",
                    attempt,
                    status,
                    f"blank cutout: every pixel is the no-data render ({self.layer.name} "
                    "has no data here)",
                )
            )
        if frac > self.max_blank_fraction:
            return _Outcome(
                CutoutResult(
                    "outside_footprint",
                    attempt,
                    status,
                    f"{frac:.1%} of the cutout is outside the {self.layer.name} footprint "
                    f"(blank), more than max_blank_fraction={self.max_blank_fraction:g}",
                )
            )
        data = body if cube is None else jpeg_of(rgb)
        return _Outcome(CutoutResult("ok", attempt, status, "", data))

    def _decode(self, body: bytes) -> tuple[np.ndarray, np.ndarray | None]:
        """The answer's RGB uint8 (and the band cube for FITS); raises on unusable bodies."""
        head = body[:512].lstrip()
        if not (head.startswith(b"\xff\xd8") or head.startswith(b"SIMPLE")):
            text = _text_excerpt(body)
            if re.search(r"no such layer|no cutouts enabled", text, re.I):
                raise ViewerRejected(f"the viewer refused layer {self.layer.name!r}: {text!r}")
            kind = "HTML page" if head.startswith(b"<") else "non-image body"
            raise ViewerError(f"HTTP 200 with a {kind} instead of a cutout: {text[:120]!r}")
        if self.fmt == "jpeg":
            if not body.startswith(b"\xff\xd8"):
                raise ViewerRejected("asked for a JPEG, got a FITS file")
            if not body.rstrip(b"\0").endswith(b"\xff\xd9"):
                raise ViewerError("JPEG is truncated (no end-of-image marker)")
            return self._checked(decode_image(body)), None
        if not body.startswith(b"SIMPLE"):
            raise ViewerRejected("asked for FITS, got a JPEG")
        cube = self._read_fits(body)
        rgb = rgb_to_uint8(bands_to_rgb(cube[:, ::-1, :], self.bands, self.layer.name))
        return rgb, cube

    def _checked(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.shape[:2] != (self.size, self.size):
            raise ViewerRejected(
                f"cutout is {rgb.shape[1]}x{rgb.shape[0]} px, asked for {self.size}x{self.size}"
            )
        return rgb

    def _read_fits(self, body: bytes) -> np.ndarray:
        """The primary HDU's (n_bands, H, W) cube, rows from south to north as the viewer
        writes it (its FITS WCS has +CD2_2; its JPEGs are flipped to have north up)."""
        from astropy.io import fits

        if len(body) % 2880:
            raise ViewerError(f"FITS is truncated ({len(body)} bytes, not whole 2880-byte blocks)")
        try:
            with fits.open(io.BytesIO(body), memmap=False) as hdul:
                header, data = hdul[0].header, hdul[0].data
                cube = None if data is None else np.array(data, dtype=np.float32)
        except (OSError, ValueError, TypeError) as err:
            raise ViewerError(f"unreadable FITS: {err}") from err
        if cube is None:
            raise ViewerError("FITS has no image in its primary HDU")
        if cube.ndim == 2:
            cube = cube[None]
        got = str(header.get("BANDS", "")).strip()
        if got and got != self.bands:
            raise ViewerRejected(f"FITS holds bands {got!r}, asked for {self.bands!r}")
        if cube.shape != (len(self.bands), self.size, self.size):
            raise ViewerRejected(
                f"FITS cube has shape {cube.shape}, asked for "
                f"{(len(self.bands), self.size, self.size)}"
            )
        return cube
