"""Rendering one synthetic galaxy's field as SkyServer or the Legacy Surveys viewer serves it.

GalSim bulge + disk convolved with a Moffat seeing PSF plus numpy disk structure (spiral arms,
patchy lopsided light, star-forming clumps) and the nucleus's young stars (in its core or around
it), drawn at the survey's native pixel scale in nanomaggies, with neighbours, foreground stars
and sky noise. SDSS (calibrated against real cutouts): g, r, i at 0.396"/px with the catalog's
seeing and smoothed sky noise, mapped i, r, g -> R, G, B with a Lupton asinh stretch, then
resampled to the requested grid. Legacy Surveys (from its published depth and seeing and the
viewer's source; no real cutouts to calibrate against): g, r, i, z at 0.262"/px, resampled, then
mapped with the viewer's ls-dr10 colours. Everything here changes the pixels: this file is part
of the renderer's digest, the population's code is not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter, map_coordinates

from ..errors import InputError
from ..images.encode import (
    BAND_SCALE,
    BRIGHTNESS,
    SOFTENING,
    Q,
    asinh_rgb,
    rgb_to_uint8,
    viewer_ls_dr10_rgb,
)
from ..relations import kpc_per_arcsec

NATIVE_SCALE = 0.396  # SDSS arcsec per pixel
SURVEYS = ("sdss", "legacysurvey")
# arcsec: the nucleus's core (a point at SDSS's seeing) and the light around it
NUCLEUS_HLR = (0.15, 0.8)
# per band: light of young stars per unit of g (r light is unchanged) ...
YOUTH_COLOUR = {"g": 1.0, "r": 0.0, "i": -0.3, "z": -0.4}
# ... and magnitude offsets of a bulge from its disk (redder)
BULGE_COLOUR = {"g": 0.25, "r": 0.0, "i": -0.08, "z": -0.12}
# the catalog has no z: i - z = 0.75 (r - i), as SDSS galaxies at z ~ 0.1 show
I_MINUS_Z_PER_R_MINUS_I = 0.75
CENTRAL_RADIUS = 1.5  # arcsec: the fibre's radius, inside which the central g light is measured


@dataclass
class RenderSettings:
    """SkyServer-like rendering by default; the stretch constants are calibrated against real
    cutouts. Per-band tuples hold one value for each of `bands`."""

    survey: str = "sdss"  # whose cutouts: "sdss" (SkyServer) or "legacysurvey" (the viewer)
    bands: str = "gri"
    native_scale: float = NATIVE_SCALE  # arcsec per pixel of the survey's images
    # None: each galaxy's catalog seeing (SDSS's own); else a log-normal draw, median and sigma
    seeing_median: float | None = None
    seeing_sigma: float = 0.0
    band_scale: tuple[float, float, float] = BAND_SCALE  # g, r, i multipliers before the stretch
    softening: float = SOFTENING  # alpha*Q of Lupton et al. (2004): linear below ~1/softening nMgy
    q: float = Q
    brightness: float = BRIGHTNESS
    # nMgy per native pixel, g r i (0.7-0.8 x nominal)
    sky_sigma: tuple[float, float, float] = (0.0135, 0.0207, 0.0325)
    # residual sky left in SkyServer's frames
    sky_offset: tuple[float, float, float] = (0.0017, 0.0019, 0.0045)
    # Gaussian sigma (native px): SkyServer's sky noise is correlated over ~4 px
    smoothing_px: float = 1.5
    jpeg_quality: int = 92  # SkyServer's quantisation tables correspond to about 92
    # g, r, i magnitude offsets of arms / patchy light ...
    arm_colour: tuple[float, float, float] = (-0.35, 0.0, 0.10)
    # ... and of clumps, from the disk's mean colour
    clump_colour: tuple[float, float, float] = (-0.50, 0.0, 0.15)
    stars_per_frame: float = 1.2
    galaxies_per_frame: float = 2.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _sky_sigma_from_depth(depth: float, fwhm: float, scale: float) -> float:
    """nMgy per pixel of a survey whose 5-sigma depth for a 0.45" exponential galaxy is `depth`
    (mag) at seeing `fwhm`: the matched-filter S/N of that galaxy, F sqrt(sum p^2) / sigma for
    its unit-flux image p, is 5."""
    import galsim

    galaxy = galsim.Convolve(
        galsim.Exponential(half_light_radius=0.45), galsim.Moffat(beta=3.5, fwhm=fwhm)
    )
    p = galaxy.drawImage(nx=64, ny=64, scale=scale).array
    sigma = float(_mag_to_nmgy(depth) * np.sqrt((p.astype(float) ** 2).sum()) / 5)
    return float(f"{sigma:.4g}")  # the same pixels whatever GalSim's last digits


# DECaLS (Dey et al. 2019): median seeing g 1.29", r 1.18", z 1.11"; target 5-sigma depths for a
# 0.45" exponential galaxy g 24.0, r 23.4, z 22.5; DR10's i (DECam: 1.15", 23.0) in between
LS_SEEING = {"g": 1.29, "r": 1.18, "i": 1.15, "z": 1.11}
LS_DEPTH = {"g": 24.0, "r": 23.4, "i": 23.0, "z": 22.5}
LS_SCALE = 0.262


def legacy_survey_settings() -> RenderSettings:
    """The viewer's ls-dr10 JPEG of coadds at DECaLS's target depth and median seeing:
    sky-subtracted, noise uncorrelated, no smoothing, JPEG quality 90 (its save_jpeg)."""
    bands = "griz"
    return RenderSettings(
        survey="legacysurvey",
        bands=bands,
        native_scale=LS_SCALE,
        seeing_median=LS_SEEING["r"],
        seeing_sigma=0.15,
        sky_sigma=tuple(_sky_sigma_from_depth(LS_DEPTH[b], LS_SEEING[b], LS_SCALE) for b in bands),
        sky_offset=(0.0, 0.0, 0.0, 0.0),
        smoothing_px=0.0,
        jpeg_quality=90,
        arm_colour=(-0.35, 0.0, 0.10, 0.15),
        clump_colour=(-0.50, 0.0, 0.15, 0.20),
    )


PER_BAND = ("sky_sigma", "sky_offset", "arm_colour", "clump_colour")
FIXED_BY_SURVEY = ("survey", "bands", "native_scale")


def render_settings(survey: str, overrides: dict | None = None) -> RenderSettings:
    """The survey's rendering, with `overrides` of its fields (not of what the survey fixes)."""
    if survey not in SURVEYS:
        raise InputError(f"synthetic.survey must be one of {SURVEYS}, got {survey!r}")
    overrides = overrides or {}
    if unknown := sorted(set(overrides) - {f.name for f in fields(RenderSettings)}):
        raise InputError(
            f"synthetic.render has no {unknown}; its keys are "
            f"{[f.name for f in fields(RenderSettings) if f.name not in FIXED_BY_SURVEY]}"
        )
    fixed = sorted(set(overrides) & set(FIXED_BY_SURVEY))
    if fixed:
        raise InputError(f"synthetic.render cannot set {fixed}: synthetic.survey sets them")
    base = legacy_survey_settings() if survey == "legacysurvey" else RenderSettings()
    settings = replace(base, **overrides)
    for name in PER_BAND:
        if len(getattr(settings, name)) != len(settings.bands):
            raise InputError(
                f"synthetic.render.{name} needs one value per band of {settings.bands}, got "
                f"{getattr(settings, name)}"
            )
    return settings


def _mag_to_nmgy(mag: np.ndarray | float) -> np.ndarray:
    return 10 ** (-0.4 * (np.asarray(mag) - 22.5))


def _band_mags(row: pd.Series, bands: str) -> np.ndarray:
    """The galaxy's model magnitudes in `bands` (z from r - i)."""
    mags = {"g": row.modelMag_g, "r": row.modelMag_r, "i": row.modelMag_i}
    mags["z"] = row.modelMag_i - I_MINUS_Z_PER_R_MINUS_I * (row.modelMag_r - row.modelMag_i)
    return np.array([mags[b] for b in bands])


def _band_fluxes(row: pd.Series, bands: str) -> tuple[np.ndarray, np.ndarray]:
    """Bulge and disk fluxes (nMgy) in `bands`; bulges redder by BULGE_COLOUR."""
    tot = _mag_to_nmgy(_band_mags(row, bands))
    bt = row.bulge_fraction
    # flux factor of a redder component
    red = _mag_to_nmgy(np.array([BULGE_COLOUR[b] for b in bands]) + 22.5)
    disk_ratio = (tot / tot[1]) / (bt * red + (1 - bt))
    disk = (1 - bt) * tot[1] * disk_ratio
    bulge = bt * tot[1] * disk_ratio * red
    return bulge, disk


def _young_nucleus(
    row, draw, galaxy_g: np.ndarray, disk: np.ndarray, beta, *, settings: RenderSettings
) -> np.ndarray:
    """Planes (one per band) of the nucleus's young stars: g light moved into its core
    (core_blueing > 0) or around it (< 0), plus a random tint of the whole nucleus taken from the
    disk. Zero net flux in every band (bar clipping at zero), no change in r, and nearly all of it
    inside the central 2.4": the 2x2 central pixels of a 16 px image, whose shared corner the
    galaxy sits on."""
    import galsim

    core, around = (
        draw(galsim.Gaussian(half_light_radius=h).shear(q=row.q_bulge, beta=beta))
        for h in NUCLEUS_HLR
    )
    n = galaxy_g.shape[0]
    yy, xx = np.indices((n, n)) - (n - 1) / 2
    central_g = galaxy_g[np.hypot(yy, xx) * settings.native_scale < CENTRAL_RADIUS].sum()
    g = central_g * (
        row.core_blueing * (core - around) + row.nucleus_tint * ((core + around) / 2 - disk)
    )
    return np.array([YOUTH_COLOUR[b] for b in settings.bands])[:, None, None] * g


def native_grid_px(size: int, scale: float, native_scale: float = NATIVE_SCALE) -> int:
    """Side of the native frame that covers `size` px of `scale` arcsec, with a margin to
    resample."""
    return int(np.ceil(size * scale / native_scale)) + 6


def _seeing(row: pd.Series, seed: int, settings: RenderSettings) -> float:
    """FWHM (arcsec) of the galaxy's PSF: its catalog seeing (SDSS), or a draw from the survey's
    distribution on a stream of its own, so the rest of the field is drawn as for SDSS."""
    if settings.seeing_median is None:
        return row.seeing_fwhm
    rng = np.random.default_rng([seed, 1])
    return float(settings.seeing_median * np.exp(settings.seeing_sigma * rng.standard_normal()))


def render_planes(
    row: pd.Series, size: int, scale: float, seed: int, settings: RenderSettings
) -> tuple[np.ndarray, int]:
    """Flux planes (one per band, nMgy per native pixel, sky noise included) of one galaxy's
    field."""
    import galsim  # imported here: the FITS and colour helpers need no GalSim

    rng = np.random.default_rng(seed)
    pixel = settings.native_scale
    n_nat = native_grid_px(size, scale, pixel)
    n_ref = native_grid_px(size, scale)  # SDSS's grid: random structure is drawn on it
    psf = galsim.Moffat(beta=3.5, fwhm=_seeing(row, seed, settings))
    beta = row.position_angle * galsim.degrees
    offset = rng.uniform(-0.5, 0.5, 2)
    gsp = galsim.GSParams(maximum_fft_size=8192)

    def draw(obj: galsim.GSObject) -> np.ndarray:
        conv = galsim.Convolve(obj, psf, gsparams=gsp)
        return conv.drawImage(nx=n_nat, ny=n_nat, scale=pixel, offset=offset).array

    disk = draw(galsim.Exponential(half_light_radius=row.hlr_disk).shear(q=row.q_disk, beta=beta))
    bulge = (
        draw(
            galsim.DeVaucouleurs(half_light_radius=row.hlr_bulge, trunc=8 * row.hlr_bulge).shear(
                q=row.q_bulge, beta=beta
            )
        )
        if row.bulge_fraction > 0.01
        else np.zeros_like(disk)
    )
    f_bulge, f_disk = _band_fluxes(row, settings.bands)
    structure = _disk_structure(row, n_nat, offset, psf, rng, pixel=pixel, n_ref=n_ref)
    planes = _galaxy_light(row, (bulge, disk), (f_bulge, f_disk), structure, settings)
    galaxy_g = f_bulge[0] * bulge + f_disk[0] * disk
    young = _young_nucleus(row, draw, galaxy_g, disk, beta, settings=settings)
    planes = np.clip(planes + young, 0, None)
    planes += _neighbours(rng, n_nat, psf, gsp, settings, n_ref=n_ref)
    return _sky(planes, rng, settings), n_nat


def _galaxy_light(
    row,
    components: tuple[np.ndarray, np.ndarray],
    fluxes: tuple[np.ndarray, np.ndarray],
    structure: tuple[np.ndarray, np.ndarray],
    settings: RenderSettings,
) -> np.ndarray:
    """Planes (one per band) of bulge, smooth disk, arms / patchy light and clumps, each in its
    colour.

    The smooth disk is redder, so that the disk's totals keep the catalog's colours (bar the most
    structured dwarfs).
    """
    bulge, disk = components
    f_bulge, f_disk = fluxes
    arms_img, clumps_img = structure
    sf, cf = row.structure_fraction, row.clump_fraction
    arms = _mag_to_nmgy(np.asarray(settings.arm_colour) + 22.5)  # flux factors: bluer than the disk
    clump = _mag_to_nmgy(np.asarray(settings.clump_colour) + 22.5)  # HII regions bluer still
    smooth = np.clip((1 - sf * arms - cf * clump) / (1 - sf - cf), 0.2, None)
    return np.stack(
        [
            f_bulge[b] * bulge
            + f_disk[b]
            * (
                (1 - sf - cf) * smooth[b] * disk
                + sf * arms[b] * arms_img
                + cf * clump[b] * clumps_img
            )
            for b in range(len(settings.bands))
        ]
    )


def _sky(planes: np.ndarray, rng: np.random.Generator, settings: RenderSettings) -> np.ndarray:
    """Residual sky and its noise, smoothed as SkyServer's colour images are (noise correlated
    over ~4 px)."""
    sky = np.asarray(settings.sky_sigma)[:, None, None]
    planes += np.asarray(settings.sky_offset)[:, None, None] + rng.normal(size=planes.shape) * sky
    if settings.smoothing_px > 0:
        planes = gaussian_filter(
            planes, (0, settings.smoothing_px, settings.smoothing_px), mode="nearest"
        )
    return planes


def _disk_structure(
    row, n_nat: int, offset: np.ndarray, psf, rng: np.random.Generator, *, pixel: float, n_ref: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-flux images (native grid, PSF-convolved) of the disk's arms / patchy light and of its
    clumps.

    Drawn in numpy on the disk's face-on coordinates, with the GalSim disk's inclination and
    position angle. The native grid is fine enough: everything here is smoother than the seeing
    (FWHM >= 3 native px).
    """
    from scipy.signal import fftconvolve

    h = row.hlr_disk / 1.6783  # exponential scale length
    light = _arms_and_patches(row, n_nat, offset, h, rng, pixel=pixel, n_ref=n_ref)
    clumps = _clumps(row, n_nat, offset, h, rng, pixel=pixel)
    psf_size = int(np.ceil(4 * psf.fwhm / pixel)) | 1
    kernel = psf.drawImage(nx=psf_size, ny=psf_size, scale=pixel).array
    out = []
    for img in (light, clumps):
        total = img.sum()
        out.append(
            fftconvolve(img / total, kernel, mode="same") if total > 0 else np.zeros((n_nat, n_nat))
        )
    return out[0], out[1]


def _arms_and_patches(
    row,
    n_nat: int,
    offset: np.ndarray,
    h: float,
    rng: np.random.Generator,
    *,
    pixel: float,
    n_ref: int,
) -> np.ndarray:
    """The outer disk's light: logarithmic spiral arms (or none), lopsidedness and a smoothed
    log-normal random field for patchiness; the centre is smooth."""
    centres = (np.arange(n_nat) - (n_nat - 1) / 2) * pixel
    x = centres[None, :] - offset[0] * pixel
    y = centres[:, None] - offset[1] * pixel
    beta = np.radians(row.position_angle)
    root_q = np.sqrt(row.q_disk)
    u = (x * np.cos(beta) + y * np.sin(beta)) * root_q  # along the major axis, face-on
    v = (-x * np.sin(beta) + y * np.cos(beta)) / root_q
    radius = np.hypot(u, v) + 1e-6
    phi = np.arctan2(v, u)
    light = np.exp(-radius / (1.25 * h)) * (1 - np.exp(-((radius / h) ** 2)))
    light *= 1 + row.lopsidedness * np.cos(phi - row.lopsided_angle)
    if row.n_arms > 0:
        tan_pitch = np.tan(np.radians(row.arm_pitch_deg))
        wave = np.cos(row.n_arms * (phi - np.log(radius / h) / tan_pitch - row.arm_phase))
        light *= ((1 + wave) / 2) ** row.arm_sharpness
    field = _patch_field(rng, n_nat, h, pixel=pixel, n_ref=n_ref)
    light *= np.exp(row.patchiness * field / max(field.std(), 1e-9))
    return light


def _patch_field(
    rng: np.random.Generator, n_nat: int, h: float, *, pixel: float, n_ref: int
) -> np.ndarray:
    """The patchiness's smoothed Gaussian field, drawn on SDSS's native grid whatever the survey
    (so every survey sees the same patches of the same galaxy) and resampled to the survey's."""
    field = gaussian_filter(rng.normal(size=(n_ref, n_ref)), sigma=max(0.4 * h / NATIVE_SCALE, 0.7))
    if pixel == NATIVE_SCALE:
        return field
    coords = (np.arange(n_nat) - (n_nat - 1) / 2) * pixel / NATIVE_SCALE + (n_ref - 1) / 2
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    return map_coordinates(field, [yy, xx], order=1, mode="nearest")


def _clumps(
    row, n_nat: int, offset: np.ndarray, h: float, rng: np.random.Generator, *, pixel: float
) -> np.ndarray:
    """Star-forming clumps: small Gaussians of one size, placed along the arms or at random in the
    disk."""
    clumps = np.zeros((n_nat, n_nat))
    n_clumps = int(row.n_clumps) if row.clump_fraction > 0.01 else 0
    if not n_clumps:
        return clumps
    # radial distribution of an exponential disk, inside 2.5 h
    r_c = rng.gamma(2.0, h, n_clumps)
    r_c = np.where(r_c < 2.5 * h, r_c, rng.uniform(0, 2.5 * h, n_clumps))
    if row.n_arms > 0:
        tan_pitch = np.tan(np.radians(row.arm_pitch_deg))
        phi_c = (
            np.log(r_c / h) / tan_pitch
            + row.arm_phase
            + 2 * np.pi * rng.integers(0, row.n_arms, n_clumps) / row.n_arms
            + rng.normal(0, 0.25, n_clumps)
        )
    else:
        phi_c = rng.uniform(0, 2 * np.pi, n_clumps)
    beta = np.radians(row.position_angle)
    root_q = np.sqrt(row.q_disk)
    uc, vc = r_c * np.cos(phi_c) / root_q, r_c * np.sin(phi_c) * root_q  # back to the sky frame
    col = (uc * np.cos(beta) - vc * np.sin(beta)) / pixel + offset[0] + (n_nat - 1) / 2
    lin = (uc * np.sin(beta) + vc * np.cos(beta)) / pixel + offset[1] + (n_nat - 1) / 2
    inside = (col > -0.5) & (col < n_nat - 0.5) & (lin > -0.5) & (lin < n_nat - 0.5)
    np.add.at(
        clumps,
        (np.round(lin[inside]).astype(int), np.round(col[inside]).astype(int)),
        rng.lognormal(0, 0.7, n_clumps)[inside],
    )
    sigma_px = max(row.clump_kpc / kpc_per_arcsec(row.z), 0.3) / pixel
    # all clumps share one size: one filter
    return gaussian_filter(clumps, sigma_px, mode="constant")


def planes_to_rgb(
    planes: np.ndarray, n_nat: int, size: int, scale: float, settings: RenderSettings
) -> np.ndarray:
    """SkyServer's order: asinh RGB on the native grid, then resample to the requested grid; the
    viewer's: resample the bands, then its ls-dr10 colours, truncated to bytes."""
    if settings.survey == "legacysurvey":
        bands = _resample(planes.transpose(1, 2, 0), n_nat, size, scale, settings.native_scale)
        return rgb_to_uint8(viewer_ls_dr10_rgb(list(bands.transpose(2, 0, 1)), settings.bands))
    rgb = asinh_rgb(
        planes[2],
        planes[1],
        planes[0],
        band_scale=settings.band_scale,
        softening=settings.softening,
        q=settings.q,
        brightness=settings.brightness,
    )
    out = _resample(rgb, n_nat, size, scale, settings.native_scale)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def render_galaxy(
    row: pd.Series, size: int, scale: float, seed: int, settings: RenderSettings
) -> np.ndarray:
    """Render one galaxy to a (size, size, 3) uint8 RGB array, as its survey serves it."""
    planes, n_nat = render_planes(row, size, scale, seed, settings)
    return planes_to_rgb(planes, n_nat, size, scale, settings)


def _neighbours(
    rng: np.random.Generator, n: int, psf, gsp, settings: RenderSettings, *, n_ref: int
) -> np.ndarray:
    """Foreground stars and background galaxies at random places away from the centre, placed
    on SDSS's grid (`n_ref` px) so that every survey sees them at the same positions."""
    import galsim  # imported here: the FITS and colour helpers need no GalSim

    out = np.zeros((len(settings.bands), n, n))
    n_star, n_gal = rng.poisson(settings.stars_per_frame), rng.poisson(settings.galaxies_per_frame)
    for k in range(n_star + n_gal):
        is_star = k < n_star
        while True:
            pos = rng.uniform(-0.5, 0.5, 2) * n_ref
            if np.hypot(*pos) > 10:
                break
        if is_star:  # number counts rise ~0.2 dex per mag; halo turn-off stars and M dwarfs
            r = _power_law_mag(rng, 15.0, 22.5, 0.2)
            gr = rng.normal(0.4, 0.12) if rng.random() < 0.6 else rng.normal(1.3, 0.15)
            obj = psf
        else:  # faint field galaxies, counts rising ~0.4 dex per mag
            r = _power_law_mag(rng, 18.0, 23.0, 0.4)
            gr = rng.uniform(0.3, 1.1)
            obj = galsim.Convolve(
                galsim.Exponential(half_light_radius=rng.uniform(0.3, 1.2)).shear(
                    q=rng.uniform(0.3, 1), beta=rng.uniform(0, 180) * galsim.degrees
                ),
                psf,
                gsparams=gsp,
            )
        ri = 0.1 + 0.4 * gr
        shift = pos * (NATIVE_SCALE / settings.native_scale)  # exactly pos for SDSS
        img = obj.drawImage(nx=n, ny=n, scale=settings.native_scale, offset=shift).array
        mags = {"g": r + gr, "r": r, "i": r - ri, "z": r - ri - I_MINUS_Z_PER_R_MINUS_I * ri}
        for b, band in enumerate(settings.bands):
            out[b] += _mag_to_nmgy(mags[band]) * img
    return out


def _power_law_mag(rng: np.random.Generator, bright: float, faint: float, slope: float) -> float:
    """A magnitude with dN/dm proportional to 10**(slope m) between `bright` and `faint`."""
    lo, hi = 10 ** (slope * bright), 10 ** (slope * faint)
    return float(np.log10(lo + rng.random() * (hi - lo)) / slope)


def _resample(rgb: np.ndarray, n_nat: int, size: int, scale: float, native: float) -> np.ndarray:
    """Bilinear resampling of the (n_nat, n_nat, planes) native grid to `size` px of `scale`
    arcsec."""
    centres = (np.arange(size) + 0.5 - size / 2) * scale / native + n_nat / 2 - 0.5
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    return np.stack(
        [
            map_coordinates(rgb[..., c], [yy, xx], order=1, mode="nearest")
            for c in range(rgb.shape[-1])
        ],
        -1,
    )


def galaxy_seed(seed: int, obj_id: int) -> int:
    """Per-galaxy seed independent of sharding and order."""
    return int(np.random.SeedSequence([seed, int(obj_id) % 2**63]).generate_state(1)[0])
