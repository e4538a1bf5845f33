"""The paper's numbers from the authors' own predictions, the MZR scatter ratio, the baselines."""

import numpy as np
import pandas as pd
import pytest
from galaxy_cnn import authors, baselines, metrics, paper


def test_authors_predictions_reproduce_their_numbers(shared_data, tmp_path):
    table = authors.render(shared_data / "wu-boada-2019", tmp_path).set_index("size")
    expected = {
        128: (0.0849, 0.0651),
        64: (0.0879, 0.0678),
        32: (0.0930, 0.0709),
        16: (0.1043, 0.0799),
    }
    for size, (r, n) in expected.items():
        assert round(table.loc[size, "rmse"], 4) == r
        assert round(table.loc[size, "nmad"], 4) == n
        assert table.loc[size, "n"] == paper.N_TEST
        assert (tmp_path / f"pred_vs_true-{size}px.png").stat().st_size > 5000
    assert round(table.loc[128, "baseline_rmse"], 4) == 0.2002
    assert round(table.loc[128, "baseline_nmad"], 4) == 0.1709
    assert "| 128 | 20466 | 0.0849 | 0.0651 |" in (tmp_path / "comparison.md").read_text()


def test_scatter_ratio_follows_the_papers_binning():
    rng = np.random.default_rng(0)
    mass = rng.uniform(8.4, 11.4, 20000)
    z_true = 8.7 + 0.1 * rng.standard_normal(mass.size)
    ratio, wstd, bins = metrics.mzr_scatter_ratio(mass, z_true, z_true)
    assert ratio == pytest.approx(1.0) and wstd == pytest.approx(0.0, abs=1e-12)
    shrunk = 8.7 + 0.5 * (z_true - 8.7)  # predictions with half the scatter at every mass
    ratio, _, bins = metrics.mzr_scatter_ratio(mass, z_true, shrunk)
    assert ratio == pytest.approx(0.5, abs=0.01)
    assert bins["mass_centre"].tolist() == pytest.approx(np.arange(8.5, 11.31, 0.2))
    # the cuts: masses <= 8.5 and Z_true outside (8.25, 9.15) never enter a bin
    assert bins["n"].sum() == int(
        (
            (mass > 8.5)
            & (np.abs(mass - np.round((mass - 8.5) / 0.2) * 0.2 - 8.5) <= 0.1)
            & (mass < 11.4)
            & (z_true > 8.25)
            & (z_true < 9.15)
        ).sum()
    )
    err = metrics.bootstrap_scatter_ratio(mass, z_true, shrunk, n_boot=20)
    assert 0 < err < 0.02


def test_random_forests_score_the_test_split_and_report_missing_magnitudes(tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    cat = pd.DataFrame({"objID": np.arange(n), "modelMag_g": rng.uniform(15, 18, n)})
    cat["modelMag_r"] = cat["modelMag_g"] - 0.5
    cat["modelMag_i"] = cat["modelMag_g"] - 0.8
    cat["oh_p50"] = 8.9 - 0.2 * (cat["modelMag_g"] - 16.5) + 0.01 * rng.standard_normal(n)
    cat.loc[3, "modelMag_i"] = np.nan  # excluded and counted
    split = pd.DataFrame(
        {"objID": cat["objID"], "split": np.where(np.arange(n) % 5 == 0, "test", "train")}
    )
    cat.to_csv(tmp_path / "c.csv", index=False)
    split.to_csv(tmp_path / "s.csv", index=False)
    out = baselines.random_forest_baselines(
        str(tmp_path / "c.csv"), str(tmp_path / "s.csv"), "oh_p50", str(tmp_path / "b.csv")
    ).set_index("model")
    assert out.loc["rf_default", "n_test"] == 80 and out.loc["rf_default", "excluded"] == 1
    assert out.loc["rf_tuned", "rmse"] < 0.05  # magnitudes carry the signal here
    cat.drop(columns="modelMag_g").to_csv(tmp_path / "c2.csv", index=False)
    out = baselines.random_forest_baselines(
        str(tmp_path / "c2.csv"), str(tmp_path / "s.csv"), "oh_p50", str(tmp_path / "b2.csv")
    )
    assert out["rmse"].isna().all() and "modelMag_g" in out["note"].iloc[0]
