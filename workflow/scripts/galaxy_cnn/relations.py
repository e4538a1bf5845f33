"""Published scaling relations used by the synthetic universe and the figures."""

from __future__ import annotations

import numpy as np

TREMONTI_RANGE = (8.5, 11.5)


def in_tremonti_range(log_mass: np.ndarray) -> np.ndarray:
    """Where the Tremonti MZR is defined: 8.5 < log M* < 11.5 (False for NaN)."""
    x = np.asarray(log_mass, dtype=float)
    return (x > TREMONTI_RANGE[0]) & (x < TREMONTI_RANGE[1])


def tremonti_mzr(log_mass: np.ndarray) -> np.ndarray:
    """Tremonti et al. (2004) eq. 3: 12 + log(O/H) = -1.492 + 1.847 x - 0.08026 x^2."""
    x = np.asarray(log_mass, dtype=float)
    return -1.492 + 1.847 * x - 0.08026 * x**2


def main_sequence(log_mass: np.ndarray) -> np.ndarray:
    """Renzini & Peng (2015) star-forming main sequence: log SFR = 0.76 log M - 7.64."""
    return 0.76 * np.asarray(log_mass, dtype=float) - 7.64


def mannucci_sfr_slope(log_mass: np.ndarray, log_sfr: np.ndarray) -> np.ndarray:
    """dZ/dlogSFR at fixed mass, the shape of Mannucci et al. (2010) eq. 2."""
    m = np.asarray(log_mass, dtype=float) - 10.0
    s = np.asarray(log_sfr, dtype=float)
    return -0.14 + 0.12 * m - 0.108 * s


TREMONTI_SCATTER = (
    (8.6, 0.19),
    (9.8, 0.115),
    (10.4, 0.085),
    (11.0, 0.07),
)  # half of P84-P16, their Table 3


def tremonti_scatter(log_mass: np.ndarray) -> np.ndarray:
    """Intrinsic scatter of 12 + log(O/H) about the Tremonti MZR (dex), interpolated in log M*."""
    x, y = zip(*TREMONTI_SCATTER, strict=True)
    return np.interp(np.asarray(log_mass, dtype=float), x, y)


def shen_late_r50_kpc(log_mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shen et al. (2003) late-type half-light radius (kpc) and its scatter in ln R50."""
    mass = 10.0 ** np.asarray(log_mass, dtype=float)
    r50 = 0.10 * mass**0.14 * (1 + mass / 3.98e10) ** 0.25
    sigma_ln = 0.34 + 0.13 / (1 + (mass / 3.98e10) ** 2)
    return r50, sigma_ln


def shen_early_r50_kpc(log_mass: np.ndarray) -> np.ndarray:
    """Shen et al. (2003) early-type half-light radius (kpc)."""
    return 2.88e-6 * (10.0 ** np.asarray(log_mass, dtype=float)) ** 0.56


def bell_log_ml_r(g_minus_r: np.ndarray, kroupa_offset: float = 0.15) -> np.ndarray:
    """Bell et al. (2003) r-band mass-to-light ratio from g - r, shifted to a Kroupa IMF."""
    return -0.306 + 1.097 * np.asarray(g_minus_r, dtype=float) - kroupa_offset


C_KM_S = 299_792.458


def comoving_distance_mpc(z: np.ndarray, h0: float = 70.0, omega_m: float = 0.3) -> np.ndarray:
    """Flat Lambda-CDM line-of-sight comoving distance (Mpc), by quadrature on a fine grid."""
    z = np.asarray(z, dtype=float)
    grid = np.linspace(0.0, max(float(np.max(z, initial=0.0)), 1e-6) * 1.001, 4001)
    inv_e = 1.0 / np.sqrt(omega_m * (1 + grid) ** 3 + (1 - omega_m))
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (inv_e[1:] + inv_e[:-1]) * np.diff(grid))])
    return C_KM_S / h0 * np.interp(z, grid, cumulative)


def luminosity_distance_mpc(z: np.ndarray) -> np.ndarray:
    return (1 + np.asarray(z, dtype=float)) * comoving_distance_mpc(z)


def kpc_per_arcsec(z: np.ndarray) -> np.ndarray:
    """Proper kpc per arcsec at redshift z (angular-diameter distance)."""
    d_a = comoving_distance_mpc(z) / (1 + np.asarray(z, dtype=float))
    return d_a * 1000 * np.pi / (180 * 3600)
