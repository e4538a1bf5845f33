"""The paper's non-CNN baselines: random forests on the g, r, i model magnitudes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import files
from .metrics import nmad, rmse

FEATURES = ["modelMag_g", "modelMag_r", "modelMag_i"]
FORESTS = {  # the paper's two forests (random_state 256 as the authors used)
    "rf_default": {"random_state": 256},
    "rf_tuned": {"n_estimators": 40, "min_samples_leaf": 8, "random_state": 256},
}


def random_forest_baselines(
    catalog_csv: str, split_csv: str, target: str, out_csv: str, n_jobs: int = 1
) -> pd.DataFrame:
    """Train both forests on the train split, score on the test split; one row per forest.

    Rows with a missing magnitude or target are excluded and counted; a catalog without the
    magnitudes (e.g. a user's own data) gets rows with NaN scores and the reason in `note`.
    """
    from sklearn.ensemble import RandomForestRegressor

    cat = pd.read_csv(catalog_csv, dtype={"objID": "int64"})
    split = pd.read_csv(split_csv, dtype={"objID": "int64"})
    df = split.merge(cat, on="objID", how="left")
    missing_cols = [c for c in FEATURES + [target] if c not in df.columns]
    rows = []
    if missing_cols:
        for name in FORESTS:
            rows.append(
                {
                    "model": name,
                    "target": target,
                    "n_train": 0,
                    "n_test": 0,
                    "excluded": len(df),
                    "rmse": np.nan,
                    "nmad": np.nan,
                    "note": f"catalog lacks {missing_cols}",
                }
            )
    else:
        ok = np.isfinite(df[FEATURES + [target]].to_numpy(float)).all(axis=1)
        train, test = df[ok & (df["split"] == "train")], df[ok & (df["split"] == "test")]
        for name, params in FORESTS.items():
            forest = RandomForestRegressor(n_jobs=n_jobs, **params).fit(
                train[FEATURES], train[target]
            )
            res = forest.predict(test[FEATURES]) - test[target].to_numpy(float)
            rows.append(
                {
                    "model": name,
                    "target": target,
                    "n_train": len(train),
                    "n_test": len(test),
                    "excluded": int((~ok).sum()),
                    "rmse": rmse(res),
                    "nmad": nmad(res),
                    "note": "",
                }
            )
    out = pd.DataFrame(rows)
    files.write_csv(out, out_csv, float_format="%.6f")
    return out
