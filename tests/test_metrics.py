import numpy as np
import pandas as pd
import pytest
from galaxy_cnn import metrics


def test_rmse_and_nmad_by_hand():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 10.0])
    assert metrics.rmse(x) == pytest.approx(np.sqrt((4 + 1 + 0 + 1 + 100) / 5))
    # median 0; |x| = 2 1 0 1 10 -> median 1
    assert metrics.nmad(x) == pytest.approx(1.4826)
    assert metrics.bias(x) == pytest.approx(1.6)


def test_nmad_is_robust_and_matches_sigma_for_gaussians():
    rng = np.random.default_rng(0)
    x = rng.normal(0.3, 0.07, 200_000)
    assert metrics.nmad(x) == pytest.approx(0.07, rel=0.01)
    x[:1000] = 50.0  # 0.5% wild outliers barely move NMAD but ruin RMSE
    assert metrics.nmad(x) == pytest.approx(0.07, rel=0.03)
    assert metrics.rmse(x) > 3


def test_bad_residuals_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        metrics.rmse(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="no residuals"):
        metrics.nmad(np.array([]))


def test_summarize_baseline_uses_training_mean():
    true = np.array([8.0, 9.0, 10.0])
    row = metrics.summarize(true, true + 0.1, train_mean=9.0)
    assert row["rmse"] == pytest.approx(0.1)
    assert row["baseline_rmse"] == pytest.approx(np.sqrt(2 / 3))


def test_binned_scatter_counts_every_galaxy():
    rng = np.random.default_rng(1)
    true = rng.uniform(8, 9.5, 1000)
    pred = true + rng.normal(0, 0.1, 1000)
    bins = metrics.binned_scatter(true, pred, np.linspace(8, 9.5, 7))
    assert bins["n"].sum() == 1000
    assert np.all(bins["rmse"].between(0.07, 0.13))


def test_write_metrics_reads_target_and_size_from_names(tmp_path):
    cat = pd.DataFrame({"objID": [1, 2, 3, 4], "oh_p50": [8.0, 9.0, 8.5, 8.7]})
    split = pd.DataFrame({"objID": [1, 2, 3, 4], "split": ["train", "train", "test", "test"]})
    cat.to_csv(tmp_path / "c.csv", index=False)
    split.to_csv(tmp_path / "s.csv", index=False)
    pd.DataFrame({"objID": [3, 4], "true": [8.5, 8.7], "pred": [8.6, 8.6]}).to_csv(
        tmp_path / "oh_p50-8px.csv", index=False
    )
    table = metrics.write_metrics(
        [str(tmp_path / "oh_p50-8px.csv")],
        str(tmp_path / "c.csv"),
        str(tmp_path / "s.csv"),
        str(tmp_path / "m.csv"),
    )
    row = table.iloc[0]
    assert (row["target"], row["size"], row["n"]) == ("oh_p50", 8, 2)
    assert row["rmse"] == pytest.approx(0.1)
    assert row["baseline_rmse"] == pytest.approx(np.sqrt((0.0**2 + 0.2**2) / 2))  # train mean 8.5


PUBLISHED = {
    128: (0.0849, 0.0651, -0.0046),
    64: (0.0879, 0.0678, -0.0001),
    32: (0.0930, 0.0709, 0.0122),
    16: (0.1043, 0.0799, -0.0094),
}


@pytest.mark.parametrize("size", sorted(PUBLISHED))
def test_authors_predictions_reproduce_their_numbers(shared_data, size):
    df = pd.read_csv(shared_data / "wu-boada-2019" / f"test-predictions-{size}px.csv")
    res = df["prediction"] - df["oh_p50"]
    assert len(df) == 20466
    r, n, b = PUBLISHED[size]
    assert round(metrics.rmse(res), 4) == r
    assert round(metrics.nmad(res), 4) == n
    assert round(metrics.bias(res), 4) == b


def test_authors_mean_baseline(shared_data):
    df = pd.read_csv(shared_data / "wu-boada-2019" / "test-predictions-128px.csv")
    base = df["oh_p50"].mean() - df["oh_p50"]
    assert round(metrics.rmse(base), 4) == 0.2002  # published: 0.2002
    assert metrics.nmad(base) == pytest.approx(
        0.1709, abs=0.002
    )  # published: 0.1709 (training mean)


def test_the_bootstrap_interval_of_nmad_matches_its_spread_over_fresh_samples():
    rng = np.random.default_rng(1)
    residuals = rng.normal(0, 0.08, 2000)
    lo, hi = metrics.bootstrap_interval(residuals, metrics.nmad)
    assert lo < metrics.nmad(residuals) < hi
    fresh = np.std(
        [metrics.nmad(rng.normal(0, 0.08, 2000)) for _ in range(300)]
    )  # what the interval estimates
    assert (hi - lo) / 2 == pytest.approx(fresh, rel=0.25)
