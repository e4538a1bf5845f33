"""Rendering one synthetic galaxy's field as SkyServer serves cutouts.

GalSim bulge + disk convolved with a Moffat seeing PSF plus numpy disk structure (spiral arms,
patchy lopsided light, star-forming clumps) and the nucleus's young stars (in its core or around
it), drawn at SDSS's native 0.396"/px in nanomaggies, with neighbours, foreground stars and
smoothed sky noise, mapped i, r, g -> R, G, B with a Lupton asinh stretch and resampled to the
requested grid. Calibrated against real cutouts. Everything here changes the pixels: this file is
part of the renderer's digest, the population's code is not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter, map_coordinates

from ..images.encode import BAND_SCALE, BRIGHTNESS, SOFTENING, Q, asinh_rgb
from ..relations import kpc_per_arcsec

NATIVE_SCALE = 0.396  # SDSS arcsec per pixel
BANDS = ("g", "r", "i")
# arcsec: the nucleus's core (a point at SDSS's seeing) and the light around it
NUCLEUS_HLR = (0.15, 0.8)
# g, r, i light of young stars per unit of g: r light is unchanged
YOUTH_COLOUR = np.array([1.0, 0.0, -0.3])
CENTRAL_RADIUS = 1.5  # arcsec: the fibre's radius, inside which the central g light is measured


@dataclass
class RenderSettings:
    """SkyServer-like rendering; the stretch constants are calibrated against real cutouts."""

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


def _mag_to_nmgy(mag: np.ndarray | float) -> np.ndarray:
    return 10 ** (-0.4 * (np.asarray(mag) - 22.5))


def _band_fluxes(row: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Bulge and disk fluxes (nMgy) in g, r, i; bulges 0.25 mag redder in g-r, 0.08 in r-i."""
    tot = _mag_to_nmgy(np.array([row.modelMag_g, row.modelMag_r, row.modelMag_i]))
    bt = row.bulge_fraction
    red = _mag_to_nmgy(np.array([0.25, 0.0, -0.08]) + 22.5)  # flux factor of a redder component
    disk_ratio = (tot / tot[1]) / (bt * red + (1 - bt))
    disk = (1 - bt) * tot[1] * disk_ratio
    bulge = bt * tot[1] * disk_ratio * red
    return bulge, disk


def _young_nucleus(row, draw, galaxy_g: np.ndarray, disk: np.ndarray, beta) -> np.ndarray:
    """g, r, i planes of the nucleus's young stars: g light moved into its core (core_blueing > 0)
    or around it (< 0), plus a random tint of the whole nucleus taken from the disk. Zero net flux
    in every band (bar clipping at zero), no change in r, and nearly all of it inside the central
    2.4": the 2x2 central pixels of a 16 px image, whose shared corner the galaxy sits on."""
    import galsim

    core, around = (
        draw(galsim.Gaussian(half_light_radius=h).shear(q=row.q_bulge, beta=beta))
        for h in NUCLEUS_HLR
    )
    n = galaxy_g.shape[0]
    yy, xx = np.indices((n, n)) - (n - 1) / 2
    central_g = galaxy_g[np.hypot(yy, xx) * NATIVE_SCALE < CENTRAL_RADIUS].sum()
    g = central_g * (
        row.core_blueing * (core - around) + row.nucleus_tint * ((core + around) / 2 - disk)
    )
    return YOUTH_COLOUR[:, None, None] * g


def native_grid_px(size: int, scale: float) -> int:
    """Side of the native 0.396"/px frame that covers `size` px of `scale` arcsec, with a margin
    to resample."""
    return int(np.ceil(size * scale / NATIVE_SCALE)) + 6


def render_planes(
    row: pd.Series, size: int, scale: float, seed: int, settings: RenderSettings
) -> tuple[np.ndarray, int]:
    """Flux planes (g, r, i in nMgy per native pixel, sky noise included) of one galaxy's field."""
    import galsim  # imported here: the FITS and colour helpers need no GalSim

    rng = np.random.default_rng(seed)
    n_nat = native_grid_px(size, scale)
    psf = galsim.Moffat(beta=3.5, fwhm=row.seeing_fwhm)
    beta = row.position_angle * galsim.degrees
    offset = rng.uniform(-0.5, 0.5, 2)
    gsp = galsim.GSParams(maximum_fft_size=8192)

    def draw(obj: galsim.GSObject) -> np.ndarray:
        conv = galsim.Convolve(obj, psf, gsparams=gsp)
        return conv.drawImage(nx=n_nat, ny=n_nat, scale=NATIVE_SCALE, offset=offset).array

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
    f_bulge, f_disk = _band_fluxes(row)
    structure = _disk_structure(row, n_nat, offset, psf, rng)
    planes = _galaxy_light(row, (bulge, disk), (f_bulge, f_disk), structure, settings)
    galaxy_g = f_bulge[0] * bulge + f_disk[0] * disk
    planes = np.clip(planes + _young_nucleus(row, draw, galaxy_g, disk, beta), 0, None)
    planes += _neighbours(rng, n_nat, psf, gsp, settings)
    return _sky(planes, rng, settings), n_nat


def _galaxy_light(
    row,
    components: tuple[np.ndarray, np.ndarray],
    fluxes: tuple[np.ndarray, np.ndarray],
    structure: tuple[np.ndarray, np.ndarray],
    settings: RenderSettings,
) -> np.ndarray:
    """g, r, i planes of bulge, smooth disk, arms / patchy light and clumps, each in its colour.

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
            for b in range(3)
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
    row, n_nat: int, offset: np.ndarray, psf, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-flux images (native grid, PSF-convolved) of the disk's arms / patchy light and of its
    clumps.

    Drawn in numpy on the disk's face-on coordinates, with the GalSim disk's inclination and
    position angle. The native grid is fine enough: everything here is smoother than the seeing
    (FWHM >= 3 native px).
    """
    from scipy.signal import fftconvolve

    h = row.hlr_disk / 1.6783  # exponential scale length
    light = _arms_and_patches(row, n_nat, offset, h, rng)
    clumps = _clumps(row, n_nat, offset, h, rng)
    psf_size = int(np.ceil(4 * psf.fwhm / NATIVE_SCALE)) | 1
    kernel = psf.drawImage(nx=psf_size, ny=psf_size, scale=NATIVE_SCALE).array
    out = []
    for img in (light, clumps):
        total = img.sum()
        out.append(
            fftconvolve(img / total, kernel, mode="same") if total > 0 else np.zeros((n_nat, n_nat))
        )
    return out[0], out[1]


def _arms_and_patches(
    row, n_nat: int, offset: np.ndarray, h: float, rng: np.random.Generator
) -> np.ndarray:
    """The outer disk's light: logarithmic spiral arms (or none), lopsidedness and a smoothed
    log-normal random field for patchiness; the centre is smooth."""
    centres = (np.arange(n_nat) - (n_nat - 1) / 2) * NATIVE_SCALE
    x = centres[None, :] - offset[0] * NATIVE_SCALE
    y = centres[:, None] - offset[1] * NATIVE_SCALE
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
    field = gaussian_filter(rng.normal(size=light.shape), sigma=max(0.4 * h / NATIVE_SCALE, 0.7))
    light *= np.exp(row.patchiness * field / max(field.std(), 1e-9))
    return light


def _clumps(row, n_nat: int, offset: np.ndarray, h: float, rng: np.random.Generator) -> np.ndarray:
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
    col = (uc * np.cos(beta) - vc * np.sin(beta)) / NATIVE_SCALE + offset[0] + (n_nat - 1) / 2
    lin = (uc * np.sin(beta) + vc * np.cos(beta)) / NATIVE_SCALE + offset[1] + (n_nat - 1) / 2
    inside = (col > -0.5) & (col < n_nat - 0.5) & (lin > -0.5) & (lin < n_nat - 0.5)
    np.add.at(
        clumps,
        (np.round(lin[inside]).astype(int), np.round(col[inside]).astype(int)),
        rng.lognormal(0, 0.7, n_clumps)[inside],
    )
    sigma_px = max(row.clump_kpc / kpc_per_arcsec(row.z), 0.3) / NATIVE_SCALE
    # all clumps share one size: one filter
    return gaussian_filter(clumps, sigma_px, mode="constant")


def planes_to_rgb(
    planes: np.ndarray, n_nat: int, size: int, scale: float, settings: RenderSettings
) -> np.ndarray:
    """SkyServer's order: asinh RGB on the native grid, then resample to the requested grid."""
    rgb = asinh_rgb(
        planes[2],
        planes[1],
        planes[0],
        band_scale=settings.band_scale,
        softening=settings.softening,
        q=settings.q,
        brightness=settings.brightness,
    )
    out = _resample(rgb, n_nat, size, scale)
    return np.clip(np.round(out * 255), 0, 255).astype(np.uint8)


def render_galaxy(
    row: pd.Series, size: int, scale: float, seed: int, settings: RenderSettings
) -> np.ndarray:
    """Render one galaxy to a (size, size, 3) uint8 RGB array, SkyServer style."""
    planes, n_nat = render_planes(row, size, scale, seed, settings)
    return planes_to_rgb(planes, n_nat, size, scale, settings)


def _neighbours(rng: np.random.Generator, n: int, psf, gsp, settings: RenderSettings) -> np.ndarray:
    """Foreground stars and background galaxies at random places away from the centre."""
    import galsim  # imported here: the FITS and colour helpers need no GalSim

    out = np.zeros((3, n, n))
    n_star, n_gal = rng.poisson(settings.stars_per_frame), rng.poisson(settings.galaxies_per_frame)
    for k in range(n_star + n_gal):
        is_star = k < n_star
        while True:
            pos = rng.uniform(-0.5, 0.5, 2) * n
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
        img = obj.drawImage(nx=n, ny=n, scale=NATIVE_SCALE, offset=pos).array
        for b, mag in enumerate((r + gr, r, r - ri)):
            out[b] += _mag_to_nmgy(mag) * img
    return out


def _power_law_mag(rng: np.random.Generator, bright: float, faint: float, slope: float) -> float:
    """A magnitude with dN/dm proportional to 10**(slope m) between `bright` and `faint`."""
    lo, hi = 10 ** (slope * bright), 10 ** (slope * faint)
    return float(np.log10(lo + rng.random() * (hi - lo)) / slope)


def _resample(rgb: np.ndarray, n_nat: int, size: int, scale: float) -> np.ndarray:
    """Bilinear resampling of the native 0.396"/px grid to `size` px of `scale` arcsec."""
    centres = (np.arange(size) + 0.5 - size / 2) * scale / NATIVE_SCALE + n_nat / 2 - 0.5
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    return np.stack(
        [map_coordinates(rgb[..., c], [yy, xx], order=1, mode="nearest") for c in range(3)], -1
    )


def galaxy_seed(seed: int, obj_id: int) -> int:
    """Per-galaxy seed independent of sharding and order."""
    return int(np.random.SeedSequence([seed, int(obj_id) % 2**63]).generate_state(1)[0])
