"""Published numbers of Wu & Boada (2019, MNRAS 484, 4683), for side-by-side comparison."""

from __future__ import annotations

import pandas as pd

# Test set, N = 20,466, with TTA (paper Table / Fig. 4).
SIZES = pd.DataFrame(
    {
        "size": [128, 64, 32, 16, 8, 4, 2, 1],
        "rmse": [0.0851, 0.0893, 0.0928, 0.1053, 0.1125, 0.1290, 0.1587, 0.1610],
        "nmad": [0.0668, 0.0703, 0.0715, 0.0815, 0.0870, 0.1022, 0.1198, 0.1251],
    }
)

# Headline numbers other than the size sweep: (key, description, rmse, nmad or None).
HEADLINE = {
    "baseline": ("predict-the-training-mean baseline", 0.2002, 0.1709),
    "rf_default": ("random forest on modelMag g, r, i (sklearn defaults)", 0.1380, 0.1162),
    "rf_tuned": ("random forest, 40 trees, min_samples_leaf 8", 0.1296, 0.1059),
    "mass_cnn": ("stellar mass CNN, M*_pred - M*_true [dex]", 0.2229, 0.1985),
    "z_from_mass": ("Z from Tremonti MZR at M*_pred vs Z_true", 0.1208, 0.1008),
    "z_about_mzr": ("Z_pred about the Tremonti MZR at the true mass", 0.0997, 0.0802),
}
CV_RMSE = (0.0836, 0.0005)  # 5-fold cross-validation at 128 px: mean +- std over folds
SCATTER_RATIO = (0.821, 0.077)  # NMAD(CNN)/NMAD(SDSS) of the MZR, weighted mean +- weighted std
N_TEST = 20466
