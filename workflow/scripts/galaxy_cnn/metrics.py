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
    x = _finite(residuals)
    return float(NMAD_SCALE * np.median(np.abs(x - np.median(x))))


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


def metrics_table(predictions: dict[tuple[str, int], pd.DataFrame], train_means: dict) -> pd.DataFrame:
    """One row per (target, size) from prediction frames with `true` and `pred` columns."""
    rows = []
    for (target, size), df in sorted(predictions.items(), key=lambda kv: (kv[0][0], -kv[0][1])):
        rows.append({"target": target, "size": size} | summarize(df["true"], df["pred"], train_means[target]))
    return pd.DataFrame(rows)


def write_metrics(prediction_csvs: list[str], catalog_csv: str, split_csv: str, out_csv: str) -> pd.DataFrame:
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
