"""Scatter statistics exactly as the paper defines them (residual = Z_pred - Z_true)."""

from __future__ import annotations

import numpy as np
import pandas as pd

NMAD_SCALE = 1.4826  # makes the MAD of a Gaussian equal to its sigma


def _finite(residuals: np.ndarray) -> np.ndarray:
    x = np.asarray(residuals, dtype=float).ravel()
    if x.size == 0:
        raise ValueError("no residuals given")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{np.count_nonzero(~np.isfinite(x))} residuals are NaN or infinite")
    return x


def rmse(residuals: np.ndarray) -> float:
    """Root-mean-square of the residuals."""
    x = _finite(residuals)
    return float(np.sqrt(np.mean(x**2)))


def nmad(residuals: np.ndarray) -> float:
    """Normalised median absolute deviation: 1.4826 * median(|x - median(x)|)."""
    return float(nmad_of_rows(_finite(residuals)))


def nmad_of_rows(x: np.ndarray) -> np.ndarray:
    """NMAD along the last axis: of each bootstrap resample at once."""
    med = np.median(x, axis=-1, keepdims=True)
    return NMAD_SCALE * np.median(np.abs(x - med), axis=-1)


def bias(residuals: np.ndarray) -> float:
    """Mean residual (prediction minus truth)."""
    return float(np.mean(_finite(residuals)))


def summarize(true: np.ndarray, pred: np.ndarray, train_mean: float | None = None) -> dict:
    """N, RMSE, NMAD and bias of `pred - true`; plus the predict-the-training-mean baseline."""
    true = np.asarray(true, dtype=float)
    res = np.asarray(pred, dtype=float) - true
    row = {"n": int(res.size), "rmse": rmse(res), "nmad": nmad(res), "bias": bias(res)}
    if train_mean is not None:
        base = train_mean - true
        row |= {"baseline_rmse": rmse(base), "baseline_nmad": nmad(base)}
    return row


def binned_scatter(
    true: np.ndarray, pred: np.ndarray, edges: np.ndarray, min_count: int = 1
) -> pd.DataFrame:
    """Per bin of Z_true: count, median prediction, RMSE and NMAD of the residuals (Fig. 3)."""
    true = np.asarray(true, dtype=float)
    res = np.asarray(pred, dtype=float) - true
    idx = np.digitize(true, edges) - 1
    rows = []
    for i in range(len(edges) - 1):
        sel = idx == i
        n = int(sel.sum())
        if n < min_count:
            continue
        rows.append(
            {
                "lo": edges[i],
                "hi": edges[i + 1],
                "center": 0.5 * (edges[i] + edges[i + 1]),
                "n": n,
                "median_pred": float(np.median(np.asarray(pred)[sel])),
                "rmse": rmse(res[sel]),
                "nmad": nmad(res[sel]),
            }
        )
    return pd.DataFrame(rows, columns=["lo", "hi", "center", "n", "median_pred", "rmse", "nmad"])


def bootstrap_interval(
    residuals: np.ndarray, stat, n_boot: int = 1000, level: float = 0.6827, seed: int = 0
) -> tuple[float, float]:
    """The central `level` interval of `stat` (rmse or nmad) over resamples of the test galaxies."""
    x = _finite(residuals)
    idx = np.random.default_rng(seed).integers(0, len(x), (n_boot, len(x)))
    samples = x[idx]
    if stat is rmse:
        values = np.sqrt(np.mean(samples**2, axis=1))
    else:
        values = nmad_of_rows(samples)
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def uncertainty_summary(true: np.ndarray, pred: np.ndarray, std: np.ndarray) -> dict:
    """How well pred_std describes the residuals: coverage of the 1 and 2 sigma intervals (0.683 and
    0.954 if calibrated), the mean Gaussian negative log-likelihood, and the rank correlation of
    |residual| with pred_std (above 0: the larger errors are flagged)."""
    res = np.asarray(pred, float) - np.asarray(true, float)
    std = np.asarray(std, float)
    z = np.abs(res) / std
    nll = 0.5 * np.log(2 * np.pi * std**2) + 0.5 * z**2
    rank = pd.Series(np.abs(res)).corr(pd.Series(std), method="spearman")
    return {
        "coverage_1sigma": float(np.mean(z < 1)),
        "coverage_2sigma": float(np.mean(z < 2)),
        "mean_nll": float(np.mean(nll)),
        "spearman_abs_residual_std": float(rank),
        "median_pred_std": float(np.median(std)),
    }


def seed_spread(df: pd.DataFrame) -> dict:
    """RMSE and NMAD of each seed's own predictions (columns pred_seed*), and their spread."""
    cols = [c for c in df.columns if c.startswith("pred_seed")]
    if len(cols) < 2:
        return {"n_seeds": max(1, len(cols)), "rmse_seed_std": np.nan, "nmad_seed_std": np.nan}
    r = [rmse(df[c] - df["true"]) for c in cols]
    n = [nmad(df[c] - df["true"]) for c in cols]
    return {
        "n_seeds": len(cols),
        "rmse_seed_std": float(np.std(r, ddof=1)),
        "nmad_seed_std": float(np.std(n, ddof=1)),
    }


def metrics_row(df: pd.DataFrame, train_mean: float) -> dict:
    """Everything metrics.csv says about one prediction file (objID, true, pred, pred_std, ...)."""
    res = df["pred"].to_numpy(float) - df["true"].to_numpy(float)
    row = summarize(df["true"], df["pred"], train_mean)
    row |= dict(zip(("rmse_lo", "rmse_hi"), bootstrap_interval(res, rmse), strict=True))
    row |= dict(zip(("nmad_lo", "nmad_hi"), bootstrap_interval(res, nmad), strict=True))
    row |= seed_spread(df)
    if "pred_std" in df.columns:
        row |= uncertainty_summary(df["true"], df["pred"], df["pred_std"])
    return row


METRICS_COLUMNS = [
    "target",
    "size",
    "n",
    "rmse",
    "rmse_lo",
    "rmse_hi",
    "nmad",
    "nmad_lo",
    "nmad_hi",
    "bias",
    "baseline_rmse",
    "baseline_nmad",
    "n_seeds",
    "rmse_seed_std",
    "nmad_seed_std",
    "coverage_1sigma",
    "coverage_2sigma",
    "mean_nll",
    "spearman_abs_residual_std",
    "median_pred_std",
]


def metrics_table(
    predictions: dict[tuple[str, int], pd.DataFrame], train_means: dict
) -> pd.DataFrame:
    """One row per (target, size) from prediction frames with `true` and `pred` columns.

    Intervals (`_lo`, `_hi`) are the central 68% of 1,000 bootstrap resamples of the test galaxies;
    `_seed_std` is the standard deviation over the seeds' own predictions (when there are several).
    """
    rows = []
    for (target, size), df in sorted(predictions.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        rows.append({"target": target, "size": size} | metrics_row(df, train_means[target]))
    return pd.DataFrame(rows).reindex(columns=METRICS_COLUMNS)


def write_metrics(
    prediction_csvs: list[str], catalog_csv: str, split_csv: str, out_csv: str
) -> pd.DataFrame:
    """metrics.csv from prediction files named {target}-{size}px.csv; baseline = training mean."""
    import re
    from pathlib import Path

    from . import files

    catalog = pd.read_csv(catalog_csv, dtype={"objID": "int64"})
    split = pd.read_csv(split_csv, dtype={"objID": "int64"})
    train_ids = split.loc[split["split"] == "train", "objID"]
    preds, means = {}, {}
    for path in prediction_csvs:
        match = re.fullmatch(r"(.+)-(\d+)px\.csv", Path(path).name)
        if not match:
            raise ValueError(f"prediction file {path} is not named {{target}}-{{size}}px.csv")
        target, size = match[1], int(match[2])
        preds[(target, size)] = pd.read_csv(path)
        if target not in means:
            vals = catalog.loc[catalog["objID"].isin(train_ids), target].to_numpy(float)
            means[target] = float(np.nanmean(vals))
    table = metrics_table(preds, means)
    files.write_csv(table, out_csv, float_format="%.6f")
    return table


def cv_summary(fold_csvs: list[str], out_csv: str) -> pd.DataFrame:
    """RMSE and NMAD on each held-out fold (files ...-fold{k}.csv)."""
    import re
    from pathlib import Path

    from . import files

    rows = []
    for path in fold_csvs:
        df = pd.read_csv(path)
        res = df["pred"] - df["true"]
        fold = int(re.search(r"fold(\d+)\.csv$", Path(path).name)[1])
        rows.append({"fold": fold, "n": len(df), "rmse": rmse(res), "nmad": nmad(res)})
    table = pd.DataFrame(rows).sort_values("fold")
    files.write_csv(table, out_csv, float_format="%.6f")
    return table


MZR_BIN_CENTRES = np.round(np.arange(8.5, 11.31, 0.2), 2)


def mzr_scatter_ratio(
    mass: np.ndarray, z_true: np.ndarray, z_pred: np.ndarray, half_width: float = 0.1
) -> tuple[float, float, pd.DataFrame]:
    """NMAD(Z_pred)/NMAD(Z_true) in stellar-mass bins, as the paper computed it.

    Rows with log M* > 8.5 and 8.25 < Z_true < 9.15; bins centred 8.5, 8.7, ..., 11.3 of
    half-width 0.1; returns the count-weighted mean ratio, the weighted standard deviation,
    and the per-bin table. Bins with fewer than 2 galaxies (no defined NMAD) are skipped.
    """
    mass, z_true, z_pred = (np.asarray(a, dtype=float) for a in (mass, z_true, z_pred))
    keep = (mass > 8.5) & (z_true > 8.25) & (z_true < 9.15) & np.isfinite(z_pred)
    mass, z_true, z_pred = mass[keep], z_true[keep], z_pred[keep]
    rows = []
    for c in MZR_BIN_CENTRES:
        sel = np.abs(mass - c) <= half_width
        n = int(sel.sum())
        if n < 2 or nmad(z_true[sel]) == 0:
            continue
        rows.append(
            {
                "mass_centre": c,
                "n": n,
                "nmad_true": nmad(z_true[sel]),
                "nmad_pred": nmad(z_pred[sel]),
            }
        )
    bins = pd.DataFrame(rows, columns=["mass_centre", "n", "nmad_true", "nmad_pred"])
    if bins.empty:
        return float("nan"), float("nan"), bins
    bins["ratio"] = bins["nmad_pred"] / bins["nmad_true"]
    w = bins["n"].to_numpy(float)
    mean = float(np.average(bins["ratio"], weights=w))
    std = float(np.sqrt(np.average((bins["ratio"] - mean) ** 2, weights=w)))
    return mean, std, bins


def bootstrap_scatter_ratio(
    mass: np.ndarray, z_true: np.ndarray, z_pred: np.ndarray, n_boot: int = 200, seed: int = 0
) -> float:
    """Standard deviation of the weighted-mean scatter ratio over galaxy bootstrap resamples."""
    mass, z_true, z_pred = (np.asarray(a, dtype=float) for a in (mass, z_true, z_pred))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        i = rng.integers(0, len(mass), len(mass))
        values.append(mzr_scatter_ratio(mass[i], z_true[i], z_pred[i])[0])
    return float(np.nanstd(values))
