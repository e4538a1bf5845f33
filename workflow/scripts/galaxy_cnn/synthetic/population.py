"""The synthetic universe's galaxies: SDSS-like catalog columns and the truth behind them.

Redshift and stellar mass with the paper sample's marginals, the star-forming main sequence, Shen
et al. sizes, sSFR-driven colours with redder bulges, Bell et al. mass-to-light, the r < 17.77
main-sample cut. Truth: oh_p50 = Tremonti MZR + Mannucci-shaped SFR term + size, central-density,
inflow and nuclear terms (together filling Tremonti's mass-dependent scatter) + hidden scatter; the
hidden term is what no image can reveal (the floor), the nuclear term what only a resolved image
can. Every draw comes from one generator in a fixed order: the order is part of what a seed means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ..metrics import nmad, rmse
from ..relations import (
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

R_LIMIT = 17.77  # SDSS main galaxy sample
SUN_ABS_R = 4.65
CATALOG_COLUMNS = (
    ["objID", "specObjID", "ra", "dec", "z", "zErr"]
    + [f"modelMag_{b}" for b in "ugriz"]
    + ["petroMag_r", "petroR50_r", "petroR90_r", "oh_p16", "oh_p50", "oh_p84"]
    + ["lgm_tot_p50", "sfr_tot_p50", "bptclass"]
)
TERMS = ("sfr_term", "size_term", "density_term", "inflow_term", "nucleus_term", "hidden_scatter")


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
    # multiplies the Shen et al. (2003) disk sizes: calibrated on real cutouts
    size_factor: float = 1.6
    colour_scatter: float = 0.06  # rest-frame g - r at fixed mass and SFR (dust, ages)
    # intrinsic axis ratio of an edge-on massive disk (dwarfs are thicker)
    disk_thickness: float = 0.2
    # r-band dimming per dex of a/b in massive disks (Masters et al. 2010)
    inclination_dust: float = 0.7
    # share of the structural scatter carried by the central density term
    density_share: float = 0.05
    inflow_share: float = 0.05  # share carried by the disturbance (patchy, clumpy star formation)
    # share carried by where the nucleus's young stars sit (core or around it)
    nucleus_share: float = 0.85
    # most g light moved between core and surroundings, per unit of the central g
    nucleus_contrast: float = 0.7
    # most g light added to or taken from the whole nucleus at random, same unit
    nucleus_tint: float = 0.25


def draw_population(
    n: int, seed: int, settings: PopulationSettings | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Return (catalog with SDSS columns, hidden truth per galaxy, counts of cut galaxies)."""
    s = settings or PopulationSettings()
    rng = np.random.default_rng(seed)
    pool, counts = _flux_limited_pool(rng, n, s)
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
    _insert_ids_and_positions(rng, pop)
    truth = pop.drop(columns=[c for c in CATALOG_COLUMNS if c not in ("objID",)])
    return pop[CATALOG_COLUMNS], truth, counts | {"kept": n}


def _flux_limited_pool(
    rng: np.random.Generator, n: int, s: PopulationSettings
) -> tuple[pd.DataFrame, dict]:
    """Galaxies drawn in (mass, z), within the MZR's range and brighter than r = 17.77; counts."""
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
    counts = {
        "drawn": pool_size,
        "cut_range": int((~in_range).sum()),
        "cut_r_limit": int((~bright).sum()),
        "pool_after_cuts": len(pool),
    }
    return pool, counts


def _insert_ids_and_positions(rng: np.random.Generator, pop: pd.DataFrame) -> None:
    """SDSS-like objID and specObjID, and positions in the main survey's footprint, in place."""
    n = len(pop)
    pop.insert(0, "objID", _sdss_like_ids(rng, n, 1237600000000000000))
    pop.insert(1, "specObjID", _sdss_like_ids(rng, n, 300000000000000000).astype(str))
    pop.insert(2, "ra", rng.uniform(120, 240, n))
    sin_dec = rng.uniform(np.sin(np.radians(0)), np.sin(np.radians(60)), n)
    pop.insert(3, "dec", np.degrees(np.arcsin(sin_dec)))


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
    """`n` distinct 64-bit ids above `base`, as SDSS's look."""
    ids = base + rng.choice(10**13, size=n, replace=False)
    return ids.astype(np.int64)


def _galaxies(
    rng: np.random.Generator, log_mass: np.ndarray, z: np.ndarray, s: PopulationSettings
) -> pd.DataFrame:
    """Every property of the galaxies at (log_mass, z), step by step; each step adds its own."""
    g = {"log_mass": log_mass, "z": z}
    g |= _star_formation(rng, g, s)
    g |= _latent_terms(rng, g, s)
    g |= _photometry(rng, g, s)
    g |= _sizes(rng, g, s)
    g |= _density_term(g, s)
    g["oh"] = (
        tremonti_mzr(log_mass)
        + g["sfr_term"]
        + g["size_term"]
        + g["density_term"]
        + g["inflow_term"]
        + g["nucleus_term"]
        + g["hidden"]
    )
    g |= _orientation(rng, g, s)
    g |= _disk_pattern(rng, g)
    catalog = _catalog_columns(rng, g, s)
    return pd.DataFrame(catalog | _truth_columns(rng, g, s))


def _star_formation(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """SFR about the main sequence, and the Mannucci-shaped SFR term of the metallicity."""
    log_mass = g["log_mass"]
    log_sfr = main_sequence(log_mass) + rng.normal(0, s.ms_scatter, len(log_mass))
    d_ms = log_sfr - main_sequence(log_mass)
    sfr_slope = mannucci_sfr_slope(log_mass, log_sfr)
    return {"log_sfr": log_sfr, "d_ms": d_ms, "sfr_slope": sfr_slope, "sfr_term": sfr_slope * d_ms}


def _latent_terms(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """The latent size, disturbance and nuclear-youth draws, their metallicity terms, and the
    hidden scatter.

    Structure at fixed mass: compact galaxies are metal-richer (Ellison et al. 2008), and so are
    galaxies with denser centres (metallicity tracks the potential and the stellar surface
    density: D'Eugenio et al. 2018, Barrera-Ballesteros et al. 2016). These two and the inflow and
    nuclear terms share the visible part of the Tremonti et al. scatter that the SFR term and the
    hidden scatter leave.
    """
    log_mass = g["log_mass"]
    m = len(log_mass)
    size_residual = rng.normal(0, 1, m)  # ln R50 about the Shen relation, in units of its scatter
    structure_sigma = np.sqrt(
        np.clip(
            tremonti_scatter(log_mass) ** 2
            - s.hidden_scatter**2
            - (g["sfr_slope"] * s.ms_scatter) ** 2,
            0,
            None,
        )
    )
    size_term = (
        -np.sqrt(1 - s.density_share - s.inflow_share - s.nucleus_share)
        * structure_sigma
        * size_residual
    )
    # recent inflow of metal-poor gas: at fixed mass, galaxies with patchy, clumpy star formation
    # are metal-poorer (their clumps are fed by metal-poor gas: Sanchez Almeida et al. 2014). The
    # disturbance sets the disk's patchiness and clumps: structure on 0.2-1 kpc scales, which
    # only resolved images show
    disturbance = rng.normal(0, 1, m)
    # the SDSS fibre (3" across) sees the nucleus, where gas driven inward by interactions and
    # bars dilutes the metals and lights young stars (Kewley et al. 2006, Ellison et al. 2008,
    # Rupke et al. 2010): at fixed mass, a nucleus whose core is bluer than its surroundings is
    # metal-poorer. The young light moves within the central 2.4" (2x2 pixels at 16 px) and the
    # galaxy keeps its colours, so only a resolved image shows whether the young stars sit in the
    # core or around it
    nuclear_youth = rng.normal(0, 1, m)
    return {
        "size_residual": size_residual,
        "structure_sigma": structure_sigma,
        "size_term": size_term,
        "disturbance": disturbance,
        "inflow_term": -np.sqrt(s.inflow_share) * structure_sigma * disturbance,
        "nuclear_youth": nuclear_youth,
        "nucleus_term": -np.sqrt(s.nucleus_share) * structure_sigma * nuclear_youth,
        "hidden": rng.normal(0, s.hidden_scatter, m),
    }


def _photometry(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """Colours and r magnitude, before inclination dust.

    Rest-frame colour: redder with mass, bluer above the main sequence; the observed colour
    reddens with z.
    """
    log_mass, z, m = g["log_mass"], g["z"], len(g["log_mass"])
    gr_rest = np.clip(
        0.50 + 0.18 * (log_mass - 10) - 0.20 * g["d_ms"] + rng.normal(0, s.colour_scatter, m),
        0.12,
        0.95,
    )
    gr = gr_rest + 0.9 * (z - 0.07)
    ri = 0.10 + 0.33 * gr + rng.normal(0, 0.02, m)
    ug = 0.85 + 1.25 * gr + rng.normal(0, 0.08, m)
    iz = 0.04 + 0.25 * gr + rng.normal(0, 0.03, m)
    log_l = log_mass - bell_log_ml_r(gr_rest)
    r = SUN_ABS_R - 2.5 * log_l + 5 * np.log10(luminosity_distance_mpc(z) * 1e5)
    return {"gr": gr, "ri": ri, "ug": ug, "iz": iz, "r": r}


def _sizes(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """Bulge fraction and the half-light radii (arcsec) of disk and bulge."""
    log_mass, m = g["log_mass"], len(g["log_mass"])
    bt = np.clip(0.12 + 0.22 * (log_mass - 10) - 0.25 * g["d_ms"] + rng.normal(0, 0.1, m), 0.0, 0.8)
    r50_kpc, sig = shen_late_r50_kpc(log_mass)
    r50_kpc = s.size_factor * r50_kpc * np.exp(g["size_residual"] * sig)
    scale = kpc_per_arcsec(g["z"])
    hlr_disk = np.clip(r50_kpc / scale, 0.4, 30)
    hlr_bulge = np.clip(
        0.7 * shen_early_r50_kpc(log_mass) * np.exp(rng.normal(0, 0.25, m)) / scale, 0.2, 10
    )
    return {"bt": bt, "scale": scale, "hlr_disk": hlr_disk, "hlr_bulge": hlr_bulge}


def _density_term(g: dict, s: PopulationSettings) -> dict:
    """The central density's metallicity term: the part of log Sigma1 that mass, overall size and
    SFR do not predict, which only the inner ~1 kpc of a resolved image shows (0.75" at z = 0.07:
    2.5 px at 128 px, 0.3 px at 16 px), scaled to unit variance at every mass."""
    log_mass, scale = g["log_mass"], g["scale"]
    log_sigma1 = log_central_density(
        log_mass, g["bt"], g["hlr_bulge"] * scale, g["hlr_disk"] * scale
    )
    dm, size, d_ms = log_mass - 10, g["size_residual"], g["d_ms"]
    design = np.column_stack(
        [np.ones(len(dm)), dm, dm**2, dm**3]
        + [size, size * dm, size * dm**2, size**2]
        + [d_ms, d_ms * dm, d_ms**2]
    )
    coef, *_ = np.linalg.lstsq(design, log_sigma1, rcond=None)
    residual = log_sigma1 - design @ coef
    edges = np.quantile(log_mass, np.linspace(0, 1, 21))
    mass_bin = np.clip(np.searchsorted(edges, log_mass, side="right") - 1, 0, 19)
    spread = np.array([residual[mass_bin == b].std() for b in range(20)])
    term = np.sqrt(s.density_share) * g["structure_sigma"] * residual / spread[mass_bin]
    return {"log_sigma1": log_sigma1, "density_term": term}


def _orientation(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """Inclination (with its dust), seeing and the observed half-light radius.

    Inclined dusty disks look fainter and redder, so the r < 17.77 cut keeps fewer edge-on ones.
    """
    log_mass, m = g["log_mass"], len(g["log_mass"])
    cos_i = rng.uniform(0, 1, m)
    thickness = np.clip(s.disk_thickness + 0.12 * (10 - log_mass), s.disk_thickness, 0.45)
    q_disk = np.sqrt(cos_i**2 * (1 - thickness**2) + thickness**2)
    dust_r = s.inclination_dust * np.clip((log_mass - 8.5) / 1.5, 0, 1) * np.log10(1 / q_disk)
    seeing = np.exp(rng.normal(np.log(1.43), 0.1445, m))
    bt = g["bt"]
    r50_obs = np.sqrt(((1 - bt) * g["hlr_disk"] + bt * g["hlr_bulge"]) ** 2 + (0.5 * seeing) ** 2)
    return {
        "q_disk": q_disk,
        # Calzetti-like A_g : A_r : A_i
        "r": g["r"] + dust_r,
        "gr": g["gr"] + 0.37 * dust_r,
        "ri": g["ri"] + 0.24 * dust_r,
        "seeing": seeing,
        "r50_obs": r50_obs,
    }


def _disk_pattern(rng: np.random.Generator, g: dict) -> dict:
    """Disk structure: grand-design arms in massive disks, patchy lopsided light and clumps in
    star-forming dwarfs."""
    log_mass, m = g["log_mass"], len(g["log_mass"])
    spiral = rng.random(m) < np.clip(0.35 + 0.4 * (log_mass - 9.8), 0.1, 0.8)
    return {
        "ssfr": g["log_sfr"] - log_mass,
        "spiral": spiral,
        "n_arms": np.where(spiral, rng.choice([2, 2, 2, 3, 4], m), 0),
        "dwarf": np.clip((10.0 - log_mass) / 1.2, 0, 1),
        # uniform on (0, 1): the same marginal as an independent draw would give
        "level": ndtr(g["disturbance"]),
    }


def _catalog_columns(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """The SDSS catalog's columns (bar ids and positions), as MPA-JHU and the photometry give."""
    r, gr, ri, oh, bt = g["r"], g["gr"], g["ri"], g["oh"], g["bt"]
    return {
        "z": g["z"],
        "zErr": np.abs(rng.normal(1e-5, 5e-6, len(r))),
        "modelMag_u": r + gr + g["ug"],
        "modelMag_g": r + gr,
        "modelMag_r": r,
        "modelMag_i": r - ri,
        "modelMag_z": r - ri - g["iz"],
        "petroMag_r": r + 0.05,
        "petroR50_r": g["r50_obs"],
        "petroR90_r": g["r50_obs"] * (2.3 + 0.8 * bt),
        "oh_p16": oh - s.oh_error,
        "oh_p50": oh,
        "oh_p84": oh + s.oh_error,
        "lgm_tot_p50": g["log_mass"],
        "sfr_tot_p50": g["log_sfr"],
        "bptclass": 1,
    }


def _truth_columns(rng: np.random.Generator, g: dict, s: PopulationSettings) -> dict:
    """Hidden truth and rendering parameters: what the catalog does not show."""
    m = len(g["z"])
    terms = {
        "hidden_scatter": g["hidden"],
        "sfr_term": g["sfr_term"],
        "size_term": g["size_term"],
        "density_term": g["density_term"],
        "inflow_term": g["inflow_term"],
        "nucleus_term": g["nucleus_term"],
        "log_sigma1": g["log_sigma1"],
        "bulge_fraction": g["bt"],
        "hlr_disk": g["hlr_disk"],
        "hlr_bulge": g["hlr_bulge"],
        "core_blueing": s.nucleus_contrast * (2 * ndtr(g["nuclear_youth"]) - 1),
        # the nucleus as a whole is bluer or redder at random: the 2.4" block's colour is no clue
        # to the youth
        "nucleus_tint": rng.uniform(-s.nucleus_tint, s.nucleus_tint, m),
    }
    return terms | _shape_columns(rng, g)


def _shape_columns(rng: np.random.Generator, g: dict) -> dict:
    """Projection, seeing and the disk's arms, patchiness and clumps, as the renderer reads them."""
    m, dwarf = len(g["z"]), g["dwarf"]
    return {
        "q_disk": g["q_disk"],
        "q_bulge": rng.uniform(0.65, 1.0, m),
        "position_angle": rng.uniform(0, 180, m),
        "seeing_fwhm": g["seeing"],
        "structure_fraction": np.clip(
            np.where(g["spiral"], rng.uniform(0.25, 0.5, m), rng.uniform(0.1, 0.3, m))
            + 0.3 * dwarf,
            0,
            0.7,
        ),
        "n_arms": g["n_arms"],
        "arm_pitch_deg": rng.uniform(15, 35, m),
        "arm_phase": rng.uniform(0, 2 * np.pi, m),
        "arm_sharpness": rng.uniform(1.0, 3.0, m),
        "lopsidedness": np.clip(rng.uniform(0, 0.25, m) + 0.35 * dwarf * rng.random(m), 0, 0.6),
        "lopsided_angle": rng.uniform(0, 2 * np.pi, m),
        "patchiness": 0.2 + 0.3 * g["level"] + 0.4 * dwarf,
        "clump_fraction": np.clip(
            0.05 + 0.15 * (g["ssfr"] + 10.3) + 0.04 * g["disturbance"], 0.0, 0.2
        ),
        "n_clumps": rng.integers(4, 20, m),
        "clump_kpc": rng.uniform(0.2, 0.6, m),
    }


def log_central_density(
    log_mass: np.ndarray,
    bulge_fraction: np.ndarray,
    hlr_bulge_kpc: np.ndarray,
    hlr_disk_kpc: np.ndarray,
    radius_kpc: float = 1.0,
) -> np.ndarray:
    """log10 of the mean stellar surface density within `radius_kpc` (Msun/kpc^2): a de
    Vaucouleurs bulge and an exponential disk, each holding its share of the mass (projected
    Sersic profiles)."""
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
    terms = {t: float(truth[t].std()) for t in TERMS if t in truth}
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
