"""A Legacy Surveys viewer double on 127.0.0.1 that answers cutouts as the real one does.

Read from github.com/legacysurvey/imagine at commit 8402fc3524cdb465d046eb97b83b2dab02c99b6c
(map/views.py, map/cutouts.py, map/urls.py, map/utils.py, viewer/settings_*.py):

* map/urls.py: `^cutout.jpg` -> cutouts.jpeg_cutout, `^cutout.fits` -> cutouts.fits_cutout (also
  `^jpeg-cutout`, `^fits-cutout`). map/cutouts.py `_cutout` is `@needs_layer()` and calls
  `req.layer.get_cutout(req, jpeg=True)` or `(req, fits=True)`.
* views.needs_layer(default_layer='ls-dr9'): the `layer` parameter, default ls-dr9; an unknown
  layer answers `HttpResponse('no such layer')`, i.e. HTTP 200 text/html.
* views.MapLayer.get_cutout: parameters ra, dec (missing or not a float: HTTP 400 'Need ra,dec
  keywords'), pixscale (default the layer's: MapLayer 0.262, SdssLayer 0.396), size (default
  256), width, height (default size), each `min(int(...), maxsize)` with maxsize = 3000, so
  larger sizes are clipped silently (and a non-integer size is an uncaught ValueError: 500);
  bands through MapLayer.parse_bands, which returns None for any unknown band, and then the
  layer's default bands are used without a word.
* views.MapLayer.write_cutout: the JPEG WCS has its CD2_2 negated (north up), the FITS one not
  (row 0 south). JPEG: `render_rgb(..., blank_ok=True)`; views.MapLayer.render_rgb replaces
  missing images by `np.zeros` bands and still calls get_rgb, so a JPEG outside the footprint
  is the render of zeros, sent with 200. FITS: `if ims is None: raise NoOverlapError('No
  overlap')`, caught nowhere (not in cutouts._cutout, get_cutout, nor any middleware of
  viewer/settings_common.py MIDDLEWARE), so Django answers 500: with DEBUG = False (e.g.
  viewer/settings_rancher2.py, the Spin deployment; no templates/500.html in the repository)
  its generic page 'Server Error (500)', with DEBUG = True (settings_common.py default) the
  technical page 'NoOverlapError at /cutout.fits'. RenderAccumulatorImage divides by
  max(weight, 1e-18), so uncovered pixels of a partly covered cutout are exactly 0.
* RGB mappings: views.sdss_rgb (m=0.02, Q=20, band -> one plane, clip 0..1; SdssLayer.get_rgb),
  views.dr2_rgb (sdss_rgb with g,r,z scales 6.0, 3.4, 2.2, m=0.03; DecalsLayer.get_rgb, used by
  the ReDecalsLayer ls-dr9-north/-south), views.LsDr10Layer.get_rgb (griz layers: m=0.03, Q=20,
  scales x1.5, each band adds to several planes with rgbvec; gri layers: sdss_rgb with the x1.5
  scales). ls-dr10 is views.LegacySurveySplitLayer(ls-dr9-north, ls-dr10-south, 32.375,
  bottom_bands='griz'); this double serves its southern part only. map/utils.save_jpeg:
  matplotlib imsave (float 0..1 -> uint8 by truncation) then `pnmtojpeg -quality 90`.
* views.send_file: StreamingHttpResponse with Content-Length; FITS named cutout_RA_DEC.fits.

The mappings below are transcribed from that source independently of the client, so tests can
check the client's own transcription against them. Scripted faults (500, 502, 403, 429, HTML page,
truncated body, dropped connection, slow answer) are consumed one per cutout request; every
request is logged with its arrival time, path and parameters.
"""

from __future__ import annotations

import io
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import ParseResult, parse_qs

import numpy as np
from astropy.io import fits
from local_http import Answer, LocalServer
from PIL import Image

MAXSIZE = 3000
DEFAULT_LAYER = "ls-dr9"
DJANGO_ERROR_PAGE = """
<!doctype html>
<html lang="en">
<head>
  <title>%(title)s</title>
</head>
<body>
  <h1>%(title)s</h1><p>%(details)s</p>
</body>
</html>
"""
TECHNICAL_500 = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>NoOverlapError at %(path)s</title></head>
<body><div id="summary"><h1>NoOverlapError at %(path)s</h1><pre class="exception_value">No overlap
</pre><table class="meta"><tr><th>Exception Type:</th><td>NoOverlapError</td></tr>
<tr><th>Exception Location:</th><td>/app/viewer/map/views.py, line 2227, in write_cutout</td></tr>
</table></div></body></html>
"""
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
MAINTENANCE_PAGE = (
    "<!DOCTYPE html><html><head><title>Legacy Survey Sky Viewer</title></head>"
    "<body><p>The viewer is down for maintenance. Please try again later.</p></body></html>"
)


# --- the viewer's RGB mappings (views.py) ---------------------------------------------------
def sdss_rgb(imgs, bands, scales=None, m=0.02, Q=20):
    rgbscales = {"u": (2, 1.5), "g": (2, 2.5), "r": (1, 1.5), "i": (0, 1.0), "z": (0, 0.4)}
    if scales is not None:
        rgbscales.update(scales)
    intensity = 0
    for img, band in zip(imgs, bands, strict=True):
        plane, scale = rgbscales[band]
        img = np.maximum(0, img * scale + m)
        intensity = intensity + img
    intensity /= len(bands)
    Q = 20
    f_i = np.arcsinh(Q * intensity) / np.sqrt(Q)
    intensity += (intensity == 0.0) * 1e-6
    h, w = intensity.shape
    rgb = np.zeros((h, w, 3), np.float32)
    for img, band in zip(imgs, bands, strict=True):
        plane, scale = rgbscales[band]
        rgb[:, :, plane] = (img * scale + m) * f_i / intensity
    return np.clip(rgb, 0, 1)


def dr2_rgb(rimgs, bands, **ignored):
    return sdss_rgb(rimgs, bands, scales=dict(g=(2, 6.0), r=(1, 3.4), z=(0, 2.2)), m=0.03)


def ls_dr10_rgb(imgs, bands, layer_bands="griz"):
    """LsDr10Layer.get_rgb; `layer_bands` is the layer's own self.bands."""
    rgb_stretch_factor = 1.5
    if layer_bands in ["gri", ["g", "r", "i"]]:
        rgbscales = {
            "g": (2, 6.0 * rgb_stretch_factor),
            "r": (1, 3.4 * rgb_stretch_factor),
            "i": (0, 3.0 * rgb_stretch_factor),
        }
        return sdss_rgb(imgs, bands, scales=rgbscales)
    m, Q, clip = 0.03, 20, True
    rgbscales = dict(
        g=(2, 6.0 * rgb_stretch_factor),
        r=(1, 3.4 * rgb_stretch_factor),
        i=(0, 3.0 * rgb_stretch_factor),
        z=(0, 2.2 * rgb_stretch_factor),
    )
    intensity = 0
    for img, band in zip(imgs, bands, strict=True):
        plane, scale = rgbscales[band]
        img = np.maximum(0, img * scale + m)
        intensity = intensity + img
    intensity /= len(bands)
    f_i = np.arcsinh(Q * intensity) / np.sqrt(Q)
    intensity += (intensity == 0.0) * 1e-6
    intensity = f_i / intensity
    h, w = intensity.shape
    rgb = np.zeros((h, w, 3), np.float32)
    rgbvec = dict(g=(0.0, 0.0, 0.75), r=(0.0, 0.5, 0.25), i=(0.25, 0.5, 0.0), z=(0.75, 0.0, 0.0))
    for img, band in zip(imgs, bands, strict=True):
        _, scale = rgbscales[band]
        rf, gf, bf = rgbvec[band]
        v = (img * scale + m) * intensity
        if clip:
            v = np.clip(v, 0, 1)
        if rf != 0.0:
            rgb[:, :, 0] += rf * v
        if gf != 0.0:
            rgb[:, :, 1] += gf * v
        if bf != 0.0:
            rgb[:, :, 2] += bf * v
    return rgb


def imsave_bytes(rgb: np.ndarray) -> np.ndarray:
    """matplotlib imsave's float -> uint8 conversion: (x * 255).astype(uint8)."""
    return (rgb * 255).astype(np.uint8)


@dataclass
class FakeLayer:
    name: str
    pixscale: float
    bands: str
    get_rgb: object
    footprint: tuple[float, float, float, float]  # ra_min, ra_max, dec_min, dec_max
    noise: float = 0.004  # nanomaggies per pixel


def default_layers() -> dict[str, FakeLayer]:
    """Layers with box footprints: ls-dr10 (south) and ls-dr9-south below Dec 32.375,
    ls-dr9-north above; sdss over both."""
    south = (100.0, 280.0, -20.0, 32.375)
    north = (100.0, 280.0, 32.375, 80.0)
    layers = [
        FakeLayer("ls-dr10", 0.262, "griz", ls_dr10_rgb, south),
        FakeLayer("ls-dr10-south", 0.262, "griz", ls_dr10_rgb, south),
        FakeLayer("ls-dr10-gri", 0.262, "gri", lambda i, b: ls_dr10_rgb(i, b, "gri"), south),
        FakeLayer("ls-dr9-south", 0.262, "grz", dr2_rgb, south),
        FakeLayer("ls-dr9-north", 0.262, "grz", dr2_rgb, north),
        FakeLayer("ls-dr9", 0.262, "grz", dr2_rgb, (100.0, 280.0, -20.0, 80.0)),
        FakeLayer("sdss", 0.396, "gri", sdss_rgb, (100.0, 280.0, -10.0, 70.0), noise=0.01),
    ]
    return {layer.name: layer for layer in layers}


BAND_FLUX = {"u": 0.4, "g": 1.0, "r": 1.8, "i": 2.4, "z": 2.9}  # central nanomaggies per pixel


def sky_cube(
    layer: FakeLayer, ra: float, dec: float, width: int, height: int, pixscale: float, bands: str
) -> np.ndarray:
    """Band images (n, H, W) in FITS orientation (row 0 south, column 0 east): a galaxy at the
    centre with a fainter companion to the north-east, noise, zeros outside the footprint."""
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    dy = (yy - (height - 1) / 2) * pixscale  # arcsec, north positive
    dx = -(xx - (width - 1) / 2) * pixscale  # arcsec, east positive (RA grows to the left)
    seed = zlib.crc32(f"{ra:.4f},{dec:.4f}".encode())
    rng = np.random.default_rng(seed)
    r_disk = float(rng.uniform(1.5, 3.0))
    q, pa = float(rng.uniform(0.4, 1.0)), float(rng.uniform(0, np.pi))
    u = dx * np.cos(pa) + dy * np.sin(pa)
    v = (-dx * np.sin(pa) + dy * np.cos(pa)) / q
    galaxy = np.exp(-np.hypot(u, v) / r_disk)
    companion = 0.3 * np.exp(-np.hypot(dx - 6.0, dy - 8.0) / 1.0)
    ra_pix = ra + dx / 3600 / max(np.cos(np.deg2rad(dec)), 1e-6)
    dec_pix = dec + dy / 3600
    ra_min, ra_max, dec_min, dec_max = layer.footprint
    covered = (ra_pix >= ra_min) & (ra_pix < ra_max) & (dec_pix >= dec_min) & (dec_pix < dec_max)
    cube = np.zeros((len(bands), height, width), np.float32)
    for k, band in enumerate(bands):
        noise = np.random.default_rng([seed, ord(band)]).normal(0, layer.noise, (height, width))
        img = BAND_FLUX[band] * (galaxy + companion * (0.5 if band in "gu" else 1.0)) + noise
        cube[k] = np.where(covered, img, 0.0)
    return cube


@dataclass
class LoggedRequest:
    """One request as it arrived: monotonic time, path below /viewer, first values."""

    time: float
    path: str
    params: dict[str, str] = field(default_factory=dict)


class FakeViewer(LocalServer):
    """The viewer's cutout endpoints under `url` (…/viewer), real HTTP on 127.0.0.1."""

    prefix = "/viewer"

    def __init__(
        self,
        layers: dict[str, FakeLayer] | None = None,
        *,
        debug: bool = False,
        slow_seconds: float = 2.0,
    ):
        self.layers = default_layers() if layers is None else layers
        self.debug, self.slow_seconds = debug, slow_seconds
        self.faults: deque[str | None] = deque()
        self.log: list[LoggedRequest] = []
        self.lock = threading.Lock()
        super().__init__()

    def get(self, url: ParseResult) -> Answer:
        path = url.path.removeprefix(self.prefix) or "/"
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        return self.answer(path, query)

    def cutout_requests(self, path: str | None = None) -> list[LoggedRequest]:
        with self.lock:
            return [r for r in self.log if path is None or r.path == path]

    def answer(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes, dict, str | None]:
        """(status, content type, body, extra headers, fault to apply while sending)."""
        kind = {
            "/cutout.jpg": "jpeg",
            "/jpeg-cutout": "jpeg",
            "/cutout.fits": "fits",
            "/fits-cutout": "fits",
        }.get(path.rstrip("/"))
        with self.lock:
            self.log.append(LoggedRequest(time.monotonic(), path, dict(query)))
            fault = self.faults.popleft() if kind and self.faults else None
        if kind is None:
            details = "The requested resource was not found on this server."
            return 404, "text/html", self._page("Not Found", details), {}, None
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "500":
            return 500, "text/html", self._page("Server Error (500)"), {}, None
        if fault == "502":
            return 502, "text/html", NGINX_502.encode(), {}, None
        if fault == "403":
            return 403, "text/html", self._page("403 Forbidden", "Access denied."), {}, None
        if fault == "429":
            return 429, "text/html", b"Too Many Requests", {"Retry-After": "0"}, None
        if fault == "html":
            return 200, "text/html; charset=utf-8", MAINTENANCE_PAGE.encode(), {}, None
        status, ctype, body, headers = self._cutout(path, kind, query)
        return status, ctype, body, headers, fault  # 'truncate' / 'drop' act while sending

    def _page(self, title: str, details: str = "") -> bytes:
        return (DJANGO_ERROR_PAGE % {"title": title, "details": details}).encode()

    def _cutout(self, path: str, kind: str, query: dict[str, str]):
        layer = self.layers.get(query.get("layer", DEFAULT_LAYER))
        if layer is None:
            return 200, "text/html; charset=utf-8", b"no such layer", {}
        try:
            ra, dec = float(query["ra"]), float(query["dec"])
        except (KeyError, ValueError):
            return 400, "text/html; charset=utf-8", b"Need ra,dec keywords", {}
        try:
            pixscale = float(query.get("pixscale", layer.pixscale))
            size = min(int(query.get("size", 256)), MAXSIZE)
            width = min(int(query.get("width", size)), MAXSIZE)
            height = min(int(query.get("height", size)), MAXSIZE)
            if width <= 0 or height <= 0 or pixscale <= 0:
                raise ValueError("bad geometry")
        except ValueError:
            return 500, "text/html", self._page("Server Error (500)"), {}
        bands = query.get("bands")
        if bands is None or any(b not in layer.bands for b in bands):
            bands = layer.bands  # MapLayer.parse_bands -> None -> get_bands()
        cube = sky_cube(layer, ra, dec, width, height, pixscale, bands)
        if kind == "jpeg":
            rgb = imsave_bytes(layer.get_rgb(list(cube), bands))[::-1]  # JPEG WCS: north up
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=90)
            return 200, "image/jpeg", buf.getvalue(), {}
        if not cube.any():  # render_into_wcs found nothing: NoOverlapError, uncaught
            if self.debug:
                return 500, "text/html", (TECHNICAL_500 % {"path": path}).encode(), {}
            return 500, "text/html", self._page("Server Error (500)"), {}
        hdu = fits.PrimaryHDU(cube if len(bands) > 1 else cube[0])
        hdr = hdu.header
        hdr["SURVEY"] = "LegacySurvey" if layer.name.startswith("ls-") else "SDSS"
        hdr["IMAGETYP"] = "IMAGE"
        hdr["BANDS"] = bands
        for k, b in enumerate(bands):
            hdr[f"BAND{k}"] = b
        for key, value in [
            ("CTYPE1", "RA---TAN"),
            ("CTYPE2", "DEC--TAN"),
            ("CRVAL1", ra),
            ("CRVAL2", dec),
            ("CRPIX1", (width + 1) / 2),
            ("CRPIX2", (height + 1) / 2),
            ("CD1_1", -pixscale / 3600),
            ("CD1_2", 0.0),
            ("CD2_1", 0.0),
            ("CD2_2", pixscale / 3600),
            ("IMAGEW", width),
            ("IMAGEH", height),
        ]:
            hdr[key] = value
        buf = io.BytesIO()
        hdu.writeto(buf)
        name = f"cutout_{ra:.4f}_{dec:.4f}.fits"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return 200, "image/fits", buf.getvalue(), headers
