"""A synthetic SDSS universe with known truth (../shared/reference/synthetic.md).

Population: redshift and stellar mass with the paper sample's marginals, the star-forming main
sequence, Shen et al. sizes, sSFR-driven colours with redder bulges, Bell et al. mass-to-light,
the r < 17.77 main-sample cut. Truth: oh_p50 = Tremonti MZR + Mannucci-shaped SFR term + size,
central-density, inflow and nuclear terms (together filling Tremonti's mass-dependent scatter) +
hidden scatter; the hidden term is what no image can reveal (the floor), the nuclear term what
only a resolved image can.

Images: GalSim bulge + disk convolved with a Moffat seeing PSF plus numpy disk structure (spiral
arms, patchy lopsided light, star-forming clumps) and the nucleus's young stars (in its core or
around it), drawn at SDSS's native 0.396"/px in nanomaggies,
with neighbours, foreground stars and smoothed sky noise, mapped i,r,g -> R,G,B with a Lupton asinh
stretch, resampled to the requested grid and saved as JPEG. Calibrated against real cutouts.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.special import ndtr

from .metrics import nmad, rmse
from .relations import (
    bell_log_ml_r,
    kpc_per_arcsec,
    luminosity_distance_mpc,
    main_sequence,
    mannucci_sfr_slope,
    shen_early_r50_kpc,
    shen_late_r50_kpc,
    tremonti_mzr,
    tremonti_scatter,
)

NATIVE_SCALE = 0.396  # SDSS arcsec per pixel
R_LIMIT = 17.77  # SDSS main galaxy sample
SUN_ABS_R = 4.65
BANDS = ("g", "r", "i")


@dataclass
class PopulationSettings:
    hidden_scatter: float = 0.06  # dex of oh_p50 that no image reveals
    z_median: float = 0.071
    z_sigma_ln: float = 0.545  # IQR 0.047-0.098
    mass_median: float = 10.06
    mass_sigma: float = 0.58  # IQR 9.64-10.42
    mass_z_correlation: float = 0.55  # flux-limited samples: massive galaxies seen further
    ms_scatter: float = 0.3
    oh_error: float = 0.04  # half-width of the (p16, p84) interval
    size_factor: float = (
        1.6  # multiplies the Shen et al. (2003) disk sizes: calibrated on real cutouts
    )
    colour_scatter: float = 0.06  # rest-frame g - r at fixed mass and SFR (dust, ages)
    disk_thickness: float = (
        0.2  # intrinsic axis ratio of an edge-on massive disk (dwarfs are thicker)
    )
    inclination_dust: float = (
        0.7  # r-band dimming per dex of a/b in massive disks (Masters et al. 2010)
    )
    density_share: float = (
        0.05  # share of the structural scatter carried by the central density term
    )
    inflow_share: float = 0.05  # share carried by the disturbance (patchy, clumpy star formation)
    nucleus_share: float = (
        0.85  # share carried by where the nucleus's young stars sit (core or around it)
    )
    nucleus_contrast: float = (
        0.7  # most g light moved between core and surroundings, per unit of the central g
    )
    nucleus_tint: float = (
        0.25  # most g light added to or taken from the whole nucleus at random, same unit
    )


def draw_population(
    n: int, seed: int, settings: PopulationSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Return (catalog with SDSS columns, hidden truth per galaxy, counts of cut galaxies)."""
    s = settings or PopulationSettings()
    rng = np.random.default_rng(seed)
    pool_size = 6 * n + 1000
    log_mass = rng.normal(s.mass_median, s.mass_sigma, pool_size)
    zeta = (log_mass - s.mass_median) / s.mass_sigma
    rho = s.mass_z_correlation
    ln_z = np.log(s.z_median) + s.z_sigma_ln * (
        rho * zeta + np.sqrt(1 - rho**2) * rng.normal(size=pool_size)
    )
    z = np.exp(ln_z)
    in_range = (log_mass > 8.5) & (log_mass < 11.5) & (z > 0.02) & (z < 0.3)
    pool = _galaxies(rng, log_mass[in_range], z[in_range], s)
    bright = (pool["modelMag_r"] < R_LIMIT).to_numpy()
    pool = pool[bright].reset_index(drop=True)
    if len(pool) < n:
        raise RuntimeError(f"only {len(pool)} galaxies pass r < {R_LIMIT}; cannot draw {n}")
    # the flux limit shifts the marginals: rake weights back to the paper sample's z and mass
    weights = _rake(
        pool,
        {
            "lgm_tot_p50": (s.mass_median, s.mass_sigma, False),
            "z": (s.z_median, s.z_sigma_ln, True),
        },
    )
    pick = rng.choice(len(pool), size=n, replace=False, p=weights / weights.sum())
    pop = pool.iloc[np.sort(pick)].reset_index(drop=True)
    counts = {
        "drawn": pool_size,
        "cut_range": int((~in_range).sum()),
        "cut_r_limit": int((~bright).sum()),
        "pool_after_cuts": len(pool),
        "kept": n,
    }
    pop.insert(0, "objID", _sdss_like_ids(rng, n, 1237600000000000000))
    pop.insert(1, "specObjID", _sdss_like_ids(rng, n, 300000000000000000).astype(str))
    pop.insert(2, "ra", rng.uniform(120, 240, n))
    pop.insert(
        3,
        "dec",
        np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(0)), np.sin(np.radians(60)), n))),
    )
    catalog_cols = (
        ["objID", "specObjID", "ra", "dec", "z", "zErr"]
        + [f"modelMag_{b}" for b in "ugriz"]
        + [
            "petroMag_r",
            "petroR50_r",
            "petroR90_r",
            "oh_p16",
            "oh_p50",
            "oh_p84",
            "lgm_tot_p50",
            "sfr_tot_p50",
            "bptclass",
        ]
    )
    truth = pop.drop(columns=[c for c in catalog_cols if c not in ("objID",)])
    return pop[catalog_cols], truth, counts


def _rake(pool: pd.DataFrame, targets: dict, bins: int = 24, iterations: int = 8) -> np.ndarray:
    """Weights that make each column's histogram follow a (log)normal target: raking."""
    from scipy.stats import norm

    w = np.ones(len(pool))
    for _ in range(iterations):
        for col, (median, sigma, log) in targets.items():
            x = np.log(pool[col].to_numpy()) if log else pool[col].to_numpy()
            mu = np.log(median) if log else median
            edges = np.quantile(x, np.linspace(0, 1, bins + 1))
            idx = np.clip(np.digitize(x, edges) - 1, 0, bins - 1)
            want = np.diff(norm.cdf(edges, mu, sigma))
            have = np.bincount(idx, weights=w, minlength=bins) / w.sum()
            w *= (want / np.maximum(want.sum(), 1e-12) / np.maximum(have, 1e-12))[idx]
    return w


def _sdss_like_ids(rng: np.random.Generator, n: int, base: int) -> np.ndarray:
    ids = base + rng.choice(10**13, size=n, replace=False)
    return ids.astype(np.int64)


def _galaxies(
    rng: np.random.Generator, log_mass: np.ndarray, z: np.ndarray, s: PopulationSettings
) -> pd.DataFrame:
    m = len(log_mass)
    log_sfr = main_sequence(log_mass) + rng.normal(0, s.ms_scatter, m)
    d_ms = log_sfr - main_sequence(log_mass)
    sfr_slope = mannucci_sfr_slope(log_mass, log_sfr)
    sfr_term = sfr_slope * d_ms
    # structure at fixed mass: compact galaxies are metal-richer (Ellison et al. 2008), and so are
    # galaxies with denser centres (metallicity tracks the potential and the stellar surface density:
    # D'Eugenio et al. 2018, Barrera-Ballesteros et al. 2016). These two and the inflow and nuclear terms
    # below share the visible part of the Tremonti et al. scatter that the SFR term and the hidden scatter leave
    size_residual = rng.normal(0, 1, m)  # ln R50 about the Shen relation, in units of its scatter
    structure_sigma = np.sqrt(
        np.clip(
            tremonti_scatter(log_mass) ** 2 - s.hidden_scatter**2 - (sfr_slope * s.ms_scatter) ** 2,
            0,
            None,
        )
    )
    size_term = (
        -np.sqrt(1 - s.density_share - s.inflow_share - s.nucleus_share)
        * structure_sigma
        * size_residual
    )
    # recent inflow of metal-poor gas: at fixed mass, galaxies with patchy, clumpy star formation are
    # metal-poorer (their clumps are fed by metal-poor gas: Sanchez Almeida et al. 2014). The disturbance
    # sets the patchiness and clumps drawn below: structure on 0.2-1 kpc scales, which only resolved images show
    disturbance = rng.normal(0, 1, m)
    inflow_term = -np.sqrt(s.inflow_share) * structure_sigma * disturbance
    # the SDSS fibre (3" across) sees the nucleus, where gas driven inward by interactions and bars dilutes
    # the metals and lights young stars (Kewley et al. 2006, Ellison et al. 2008, Rupke et al. 2010): at
    # fixed mass, a nucleus whose core is bluer than its surroundings is metal-poorer. The young light
    # moves within the central 2.4" (2x2 pixels at 16 px) and the galaxy keeps its colours, so only a
    # resolved image shows whether the young stars sit in the core or around it
    nuclear_youth = rng.normal(0, 1, m)
    nucleus_term = -np.sqrt(s.nucleus_share) * structure_sigma * nuclear_youth
    hidden = rng.normal(0, s.hidden_scatter, m)
    # rest-frame colour: redder with mass, bluer above the main sequence; observed colour reddens with z
    gr_rest = np.clip(
        0.50 + 0.18 * (log_mass - 10) - 0.20 * d_ms + rng.normal(0, s.colour_scatter, m), 0.12, 0.95
    )
    gr = gr_rest + 0.9 * (z - 0.07)
    ri = 0.10 + 0.33 * gr + rng.normal(0, 0.02, m)
    ug = 0.85 + 1.25 * gr + rng.normal(0, 0.08, m)
    iz = 0.04 + 0.25 * gr + rng.normal(0, 0.03, m)
    log_l = log_mass - bell_log_ml_r(gr_rest)
    r = SUN_ABS_R - 2.5 * log_l + 5 * np.log10(luminosity_distance_mpc(z) * 1e5)
    bt = np.clip(0.12 + 0.22 * (log_mass - 10) - 0.25 * d_ms + rng.normal(0, 0.1, m), 0.0, 0.8)
    r50_kpc, sig = shen_late_r50_kpc(log_mass)
    r50_kpc = s.size_factor * r50_kpc * np.exp(size_residual * sig)
    scale = kpc_per_arcsec(z)
    hlr_disk = np.clip(r50_kpc / scale, 0.4, 30)
    hlr_bulge = np.clip(
        0.7 * shen_early_r50_kpc(log_mass) * np.exp(rng.normal(0, 0.25, m)) / scale, 0.2, 10
    )
    # the central density: its part that mass, overall size and SFR do not predict, which only the inner
    # ~1 kpc of a resolved image shows (0.75" at z = 0.07: 2.5 px at 128 px, 0.3 px at 16 px)
    log_sigma1 = log_central_density(log_mass, bt, hlr_bulge * scale, hlr_disk * scale)
    dm = log_mass - 10
    design = np.column_stack(
        [
            np.ones(m),
            dm,
            dm**2,
            dm**3,
            size_residual,
            size_residual * dm,
            size_residual * dm**2,
            size_residual**2,
            d_ms,
            d_ms * dm,
            d_ms**2,
        ]
    )
    coef, *_ = np.linalg.lstsq(design, log_sigma1, rcond=None)
    density_residual = log_sigma1 - design @ coef
    edges = np.quantile(log_mass, np.linspace(0, 1, 21))  # unit variance at every mass
    mass_bin = np.clip(np.searchsorted(edges, log_mass, side="right") - 1, 0, 19)
    spread = np.array([density_residual[mass_bin == b].std() for b in range(20)])
    density_term = np.sqrt(s.density_share) * structure_sigma * density_residual / spread[mass_bin]
    oh = (
        tremonti_mzr(log_mass)
        + sfr_term
        + size_term
        + density_term
        + inflow_term
        + nucleus_term
        + hidden
    )
    cos_i = rng.uniform(0, 1, m)
    thickness = np.clip(s.disk_thickness + 0.12 * (10 - log_mass), s.disk_thickness, 0.45)
    q_disk = np.sqrt(cos_i**2 * (1 - thickness**2) + thickness**2)
    # inclined dusty disks look fainter and redder, so the r < 17.77 cut keeps fewer edge-on ones
    dust_r = s.inclination_dust * np.clip((log_mass - 8.5) / 1.5, 0, 1) * np.log10(1 / q_disk)
    r, gr, ri = r + dust_r, gr + 0.37 * dust_r, ri + 0.24 * dust_r  # Calzetti-like A_g : A_r : A_i
    seeing = np.exp(rng.normal(np.log(1.43), 0.1445, m))
    r50_obs = np.sqrt(((1 - bt) * hlr_disk + bt * hlr_bulge) ** 2 + (0.5 * seeing) ** 2)
    ssfr = log_sfr - log_mass
    # disk structure: grand-design arms in massive disks, patchy lopsided light and clumps in star-forming dwarfs
    spiral = rng.random(m) < np.clip(0.35 + 0.4 * (log_mass - 9.8), 0.1, 0.8)
    n_arms = np.where(spiral, rng.choice([2, 2, 2, 3, 4], m), 0)
    dwarf = np.clip((10.0 - log_mass) / 1.2, 0, 1)
    level = ndtr(
        disturbance
    )  # uniform on (0, 1): the same marginal as an independent draw would give
    return pd.DataFrame(
        {
            "z": z,
            "zErr": np.abs(rng.normal(1e-5, 5e-6, m)),
            "modelMag_u": r + gr + ug,
            "modelMag_g": r + gr,
            "modelMag_r": r,
            "modelMag_i": r - ri,
            "modelMag_z": r - ri - iz,
            "petroMag_r": r + 0.05,
            "petroR50_r": r50_obs,
            "petroR90_r": r50_obs * (2.3 + 0.8 * bt),
            "oh_p16": oh - s.oh_error,
            "oh_p50": oh,
            "oh_p84": oh + s.oh_error,
            "lgm_tot_p50": log_mass,
            "sfr_tot_p50": log_sfr,
            "bptclass": 1,
            # hidden truth and rendering parameters (not in the catalog)
            "hidden_scatter": hidden,
            "sfr_term": sfr_term,
            "size_term": size_term,
            "density_term": density_term,
            "inflow_term": inflow_term,
            "nucleus_term": nucleus_term,
            "log_sigma1": log_sigma1,
            "bulge_fraction": bt,
            "hlr_disk": hlr_disk,
            "hlr_bulge": hlr_bulge,
            "core_blueing": s.nucleus_contrast * (2 * ndtr(nuclear_youth) - 1),
            # the nucleus as a whole is bluer or redder at random: the 2.4" block's colour is no clue to the youth
            "nucleus_tint": rng.uniform(-s.nucleus_tint, s.nucleus_tint, m),
            "q_disk": q_disk,
            "q_bulge": rng.uniform(0.65, 1.0, m),
            "position_angle": rng.uniform(0, 180, m),
            "seeing_fwhm": seeing,
            "structure_fraction": np.clip(
                np.where(spiral, rng.uniform(0.25, 0.5, m), rng.uniform(0.1, 0.3, m)) + 0.3 * dwarf,
                0,
                0.7,
            ),
            "n_arms": n_arms,
            "arm_pitch_deg": rng.uniform(15, 35, m),
            "arm_phase": rng.uniform(0, 2 * np.pi, m),
            "arm_sharpness": rng.uniform(1.0, 3.0, m),
            "lopsidedness": np.clip(rng.uniform(0, 0.25, m) + 0.35 * dwarf * rng.random(m), 0, 0.6),
            "lopsided_angle": rng.uniform(0, 2 * np.pi, m),
            "patchiness": 0.2 + 0.3 * level + 0.4 * dwarf,
            "clump_fraction": np.clip(0.05 + 0.15 * (ssfr + 10.3) + 0.04 * disturbance, 0.0, 0.2),
            "n_clumps": rng.integers(4, 20, m),
            "clump_kpc": rng.uniform(0.2, 0.6, m),
        }
    )


def log_central_density(
    log_mass: np.ndarray,
    bulge_fraction: np.ndarray,
    hlr_bulge_kpc: np.ndarray,
    hlr_disk_kpc: np.ndarray,
    radius_kpc: float = 1.0,
) -> np.ndarray:
    """log10 of the mean stellar surface density within `radius_kpc` (Msun/kpc^2): a de Vaucouleurs
    bulge and an exponential disk, each holding its share of the mass (projected Sersic profiles)."""
    from scipy.special import gammainc

    def enclosed(n: float, hlr: np.ndarray) -> np.ndarray:
        b = 2 * n - 1 / 3 + 4 / (405 * n)  # Ciotti & Bertin (1999)
        return gammainc(2 * n, b * (radius_kpc / hlr) ** (1 / n))

    inside = bulge_fraction * enclosed(4.0, hlr_bulge_kpc) + (1 - bulge_fraction) * enclosed(
        1.0, hlr_disk_kpc
    )
    return log_mass + np.log10(inside / (np.pi * radius_kpc**2))


def floor_summary(truth: pd.DataFrame, settings: PopulationSettings) -> dict:
    """The part of oh_p50 no image can reveal (its RMSE and NMAD are a floor for any predictor),
    and the standard deviation of each term of the truth about the Tremonti MZR."""
    h = truth["hidden_scatter"].to_numpy()
    terms = {
        t: float(truth[t].std())
        for t in (
            "sfr_term",
            "size_term",
            "density_term",
            "inflow_term",
            "nucleus_term",
            "hidden_scatter",
        )
        if t in truth
    }
    return {
        "oh_p50": {
            "hidden_scatter_sigma": settings.hidden_scatter,
            "floor_rmse": rmse(h),
            "floor_nmad": nmad(h),
            "n": len(h),
            "term_std": terms,
            "about_mzr_std": float(truth[list(terms)].sum(axis=1).std()),
            "note": "scatter of oh_p50 not encoded in any galaxy property that shapes the image; "
            "term_std: each term of oh_p50 - Tremonti MZR (they are nearly independent)",
        }
    }


@dataclass
class RenderSettings:
    """SkyServer-like rendering; the stretch constants are calibrated against real cutouts."""

    band_scale: tuple[float, float, float] = (
        1.45,
        1.08,
        0.93,
    )  # g, r, i multipliers before the stretch
    softening: float = 20.0  # alpha*Q of Lupton et al. (2004): linear below ~1/softening nMgy
    q: float = 5.0
    brightness: float = 0.8
    sky_sigma: tuple[float, float, float] = (
        0.0135,
        0.0207,
        0.0325,
    )  # nMgy per native pixel, g r i (0.7-0.8 x nominal)
    sky_offset: tuple[float, float, float] = (
        0.0017,
        0.0019,
        0.0045,
    )  # residual sky left in SkyServer's frames
    smoothing_px: float = (
        1.5  # Gaussian sigma (native px): SkyServer's sky noise is correlated over ~4 px
    )
    jpeg_quality: int = 92  # SkyServer's quantisation tables correspond to about 92
    arm_colour: tuple[float, float, float] = (
        -0.35,
        0.0,
        0.10,
    )  # g, r, i magnitude offsets of arms / patchy light
    clump_colour: tuple[float, float, float] = (
        -0.50,
        0.0,
        0.15,
    )  # ... and of clumps, from the disk's mean colour
    stars_per_frame: float = 1.2
    galaxies_per_frame: float = 2.0
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _mag_to_nmgy(mag: np.ndarray | float) -> np.ndarray:
    return 10 ** (-0.4 * (np.asarray(mag) - 22.5))


NUCLEUS_HLR = (
    0.15,
    0.8,
)  # arcsec: the nucleus's core (a point at SDSS's seeing) and the light around it
YOUTH_COLOUR = np.array(
    [1.0, 0.0, -0.3]
)  # g, r, i light of young stars per unit of g: r light is unchanged
CENTRAL_RADIUS = 1.5  # arcsec: the fibre's radius, inside which the central g light is measured


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
    """g, r, i planes of the nucleus's young stars: g light moved into its core (core_blueing > 0) or
    around it (< 0), plus a random tint of the whole nucleus taken from the disk. Zero net flux in
    every band (bar clipping at zero), no change in r, and nearly all of it inside the central 2.4":
    the 2x2 central pixels of a 16 px image, whose shared corner the galaxy sits on."""
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
    """Side of the native 0.396"/px frame that covers `size` px of `scale` arcsec, with a margin to resample."""
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
    structure, clumps = _disk_structure(row, n_nat, offset, psf, rng)
    sf, cf = row.structure_fraction, row.clump_fraction
    arms = _mag_to_nmgy(
        np.asarray(settings.arm_colour) + 22.5
    )  # flux factors: arms bluer than the disk
    clump = _mag_to_nmgy(np.asarray(settings.clump_colour) + 22.5)  # HII regions bluer still
    # the smooth disk is redder, so that the disk's totals keep the catalog's colours (bar the most structured dwarfs)
    smooth = np.clip((1 - sf * arms - cf * clump) / (1 - sf - cf), 0.2, None)
    planes = np.stack(
        [
            f_bulge[b] * bulge
            + f_disk[b]
            * ((1 - sf - cf) * smooth[b] * disk + sf * arms[b] * structure + cf * clump[b] * clumps)
            for b in range(3)
        ]
    )
    planes = np.clip(
        planes + _young_nucleus(row, draw, f_bulge[0] * bulge + f_disk[0] * disk, disk, beta),
        0,
        None,
    )
    planes += _neighbours(rng, n_nat, psf, gsp, settings)
    sky = np.asarray(settings.sky_sigma)[:, None, None]
    planes += np.asarray(settings.sky_offset)[:, None, None] + rng.normal(size=planes.shape) * sky
    if (
        settings.smoothing_px > 0
    ):  # SkyServer's colour images are smooth: their sky noise is correlated over ~4 px
        planes = gaussian_filter(
            planes, (0, settings.smoothing_px, settings.smoothing_px), mode="nearest"
        )
    return planes, n_nat


def _disk_structure(
    row, n_nat: int, offset: np.ndarray, psf, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Unit-flux images (native grid, PSF-convolved) of the disk's arms / patchy light and of its clumps.

    Drawn in numpy on the disk's face-on coordinates: logarithmic spiral arms (or none), lopsidedness and a
    smoothed log-normal random field for patchiness; clumps are small Gaussians placed along the arms or
    at random in the disk. Same inclination and position angle as the GalSim disk. The native grid is
    fine enough: everything here is smoother than the seeing (FWHM >= 3 native px).
    """
    from scipy.signal import fftconvolve

    centres = (np.arange(n_nat) - (n_nat - 1) / 2) * NATIVE_SCALE
    x = centres[None, :] - offset[0] * NATIVE_SCALE
    y = centres[:, None] - offset[1] * NATIVE_SCALE
    beta = np.radians(row.position_angle)
    root_q = np.sqrt(row.q_disk)
    u = (x * np.cos(beta) + y * np.sin(beta)) * root_q  # along the major axis, face-on
    v = (-x * np.sin(beta) + y * np.cos(beta)) / root_q
    h = row.hlr_disk / 1.6783  # exponential scale length
    radius = np.hypot(u, v) + 1e-6
    phi = np.arctan2(v, u)
    light = np.exp(-radius / (1.25 * h)) * (
        1 - np.exp(-((radius / h) ** 2))
    )  # outer disk; the centre is smooth
    light *= 1 + row.lopsidedness * np.cos(phi - row.lopsided_angle)
    if row.n_arms > 0:
        tan_pitch = np.tan(np.radians(row.arm_pitch_deg))
        wave = np.cos(row.n_arms * (phi - np.log(radius / h) / tan_pitch - row.arm_phase))
        light *= ((1 + wave) / 2) ** row.arm_sharpness
    field = gaussian_filter(rng.normal(size=light.shape), sigma=max(0.4 * h / NATIVE_SCALE, 0.7))
    light *= np.exp(row.patchiness * field / max(field.std(), 1e-9))

    clumps = np.zeros_like(light)
    n_clumps = int(row.n_clumps) if row.clump_fraction > 0.01 else 0
    if n_clumps:
        r_c = rng.gamma(
            2.0, h, n_clumps
        )  # radial distribution of an exponential disk, inside 2.5 h
        r_c = np.where(r_c < 2.5 * h, r_c, rng.uniform(0, 2.5 * h, n_clumps))
        if row.n_arms > 0:
            phi_c = (
                np.log(r_c / h) / tan_pitch
                + row.arm_phase
                + 2 * np.pi * rng.integers(0, row.n_arms, n_clumps) / row.n_arms
                + rng.normal(0, 0.25, n_clumps)
            )
        else:
            phi_c = rng.uniform(0, 2 * np.pi, n_clumps)
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
        clumps = gaussian_filter(
            clumps, sigma_px, mode="constant"
        )  # all clumps share one size: one filter

    psf_size = int(np.ceil(4 * psf.fwhm / NATIVE_SCALE)) | 1
    kernel = psf.drawImage(nx=psf_size, ny=psf_size, scale=NATIVE_SCALE).array
    out = []
    for img in (light, clumps):
        total = img.sum()
        out.append(
            fftconvolve(img / total, kernel, mode="same") if total > 0 else np.zeros((n_nat, n_nat))
        )
    return out[0], out[1]


def planes_to_rgb(
    planes: np.ndarray, n_nat: int, size: int, scale: float, settings: RenderSettings
) -> np.ndarray:
    """SkyServer's order: asinh RGB on the native grid, then resample to the requested grid."""
    rgb = asinh_rgb(planes[2], planes[1], planes[0], settings)
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


def asinh_rgb(i: np.ndarray, r: np.ndarray, g: np.ndarray, settings: RenderSettings) -> np.ndarray:
    """Lupton et al. (2004) colour-preserving asinh stretch: i, r, g (nMgy) -> R, G, B in [0, 1]."""
    s = settings.band_scale
    chans = np.stack([i * s[2], r * s[1], g * s[0]])
    mean = chans.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(
            mean > 1e-9,
            np.arcsinh(settings.softening * mean) / (settings.q * mean),
            settings.softening / settings.q,
        )
    rgb = np.clip(chans * factor * settings.brightness, 0, None)
    peak = rgb.max(axis=0)
    rgb = np.where(peak > 1, rgb / np.maximum(peak, 1e-9), rgb)  # clip keeping the colour
    return rgb.transpose(1, 2, 0)


def _resample(rgb: np.ndarray, n_nat: int, size: int, scale: float) -> np.ndarray:
    """Bilinear resampling of the native 0.396"/px grid to `size` px of `scale` arcsec."""
    centres = (np.arange(size) + 0.5 - size / 2) * scale / NATIVE_SCALE + n_nat / 2 - 0.5
    yy, xx = np.meshgrid(centres, centres, indexing="ij")
    return np.stack(
        [map_coordinates(rgb[..., c], [yy, xx], order=1, mode="nearest") for c in range(3)], -1
    )


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def galaxy_seed(seed: int, obj_id: int) -> int:
    """Per-galaxy seed independent of sharding and order."""
    return int(np.random.SeedSequence([seed, int(obj_id) % 2**63]).generate_state(1)[0])
