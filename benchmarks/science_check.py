"""The science check: NMAD and RMSE against image size on a finished synthetic run, with intervals.

Reads a run directory made with config/science_cpu.yaml (or any synthetic config) and writes per
size N, RMSE, NMAD and their bootstrap 68% intervals, the uncertainty calibration, the floor
(the scatter no image reveals), how much of each term of the truth each model recovers, and the
configuration, plus the paired-bootstrap ratio of NMAD at
the largest size to NMAD at 16 px (the paper: 0.0668 / 0.0815 = 0.82).
  python benchmarks/science_check.py <run dir> --out benchmarks/results/science_check_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import paper, provenance  # noqa: E402
from galaxy_cnn.metrics import METRICS_COLUMNS, NMAD_SCALE  # noqa: E402

# metrics.csv's columns reported for each size, in its order: all but these
NOT_PER_SIZE = {
    "target",
    "bias",
    "baseline_rmse",
    "n_seeds",
    "rmse_seed_std",
    "nmad_seed_std",
    "mean_nll",
    "spearman_abs_residual_std",
}
PER_SIZE_COLUMNS = [c for c in METRICS_COLUMNS if c not in NOT_PER_SIZE]


def paired_ratio(a: pd.DataFrame, b: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> dict:
    """NMAD(a) / NMAD(b) on the same test galaxies, and its bootstrap intervals (galaxies
    resampled together)."""
    both = a.merge(b, on="objID", suffixes=("_a", "_b"))
    ra = (both["pred_a"] - both["true_a"]).to_numpy()
    rb = (both["pred_b"] - both["true_b"]).to_numpy()

    def nmad(x, axis=-1):
        return NMAD_SCALE * np.median(np.abs(x - np.median(x, axis=axis, keepdims=True)), axis=axis)

    idx = np.random.default_rng(seed).integers(0, len(both), (n_boot, len(both)))
    ratios = nmad(ra[idx]) / nmad(rb[idx])
    q = np.quantile(ratios, [0.025, 0.16, 0.84, 0.975])
    return {
        "ratio": float(nmad(ra) / nmad(rb)),
        "ci68": [float(q[1]), float(q[2])],
        "ci95": [float(q[0]), float(q[3])],
        "fraction_of_resamples_below_0.9": float(np.mean(ratios < 0.9)),
        "n": len(both),
    }


def term_recovery(
    pred: pd.DataFrame, truth: pd.DataFrame, catalog: pd.DataFrame, terms: list[str]
) -> dict:
    """How much of each truth term a model's predictions carry: the slope of (pred - MZR) on each
    term, jointly fitted over the test galaxies (1 = fully recovered, 0 = not seen)."""
    from galaxy_cnn.relations import tremonti_mzr

    both = pred.merge(truth, on="objID").merge(catalog[["objID", "lgm_tot_p50"]], on="objID")
    y = both["pred"].to_numpy() - tremonti_mzr(both["lgm_tot_p50"].to_numpy())
    x = np.column_stack([np.ones(len(both))] + [both[t].to_numpy() for t in terms])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return {t: float(c) for t, c in zip(terms, coef[1:], strict=True)}


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("run", type=Path)
    ap.add_argument("--target", default="oh_p50")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    r = args.run / "results"
    metrics = (
        pd.read_csv(r / "metrics.csv")
        .query("target == @args.target")
        .sort_values("size", ascending=False)
    )
    floor = json.loads((r / "synthetic" / "floor.json").read_text())[args.target]
    catalog = json.loads((r / "catalog.json").read_text())
    split = json.loads((r / "split.json").read_text())
    largest = int(metrics["size"].max())
    model = json.loads((r / "models" / f"{args.target}-{largest}px.json").read_text())
    pub = paper.SIZES.set_index("size")
    sizes = []
    for row in metrics.itertuples():
        entry = {k: getattr(row, k) for k in PER_SIZE_COLUMNS}
        entry = {k: (int(v) if k in ("size", "n") else float(v)) for k, v in entry.items()}
        entry["nmad_over_baseline"] = entry["nmad"] / entry["baseline_nmad"]
        if row.size in pub.index:
            entry["paper_nmad"] = float(pub.loc[row.size, "nmad"])
            entry["paper_nmad_over_baseline"] = float(
                pub.loc[row.size, "nmad"] / paper.HEADLINE["baseline"][2]
            )
        sizes.append(entry)
    read = lambda s: pd.read_csv(r / "predictions" / f"{args.target}-{s}px.csv")  # noqa: E731
    truth = pd.read_csv(r / "synthetic" / "truth.csv")
    cat = pd.read_csv(r / "catalog.csv", usecols=["objID", "lgm_tot_p50"])
    terms = [t for t in truth.columns if t.endswith("_term")] + [
        "hidden_scatter"
    ]  # whatever the universe has
    for entry in sizes:
        entry["term_recovery"] = term_recovery(read(entry["size"]), truth, cat, terms)
    ratio = (
        paired_ratio(read(largest), read(16))
        if 16 in set(metrics["size"]) and largest != 16
        else None
    )
    report = {
        "what": (
            "science check on the synthetic universe: "
            "NMAD against image size with bootstrap intervals"
        ),
        "run": str(args.run),
        "floor": floor,
        "sizes": sizes,
        f"nmad_{largest}px_over_nmad_16px": ratio,
        "paper_nmad_128px_over_16px": float(pub.loc[128, "nmad"] / pub.loc[16, "nmad"]),
        "random_forests": (
            pd.read_csv(r / "baselines.csv").to_dict("records")
            if (r / "baselines.csv").exists()
            else None
        ),
        "split": {k: split[k] for k in ("train", "valid", "test", "fractions", "seed")},
        "catalog": {
            k: catalog.get(k) for k in ("source", "settings", "rows_out", "renderer_digest")
        },
        "train": model["members"][0]["train"],
        "calibration": model["calibration"],
        "device": model["members"][0]["device"],
        "provenance": provenance.collect(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(pd.DataFrame(sizes).drop(columns="term_recovery").to_string(index=False))
    print(pd.DataFrame({e["size"]: e["term_recovery"] for e in sizes}).round(2).to_string())
    if ratio:
        print(
            f"NMAD {largest} px / 16 px = {ratio['ratio']:.3f}, "
            f"68% {ratio['ci68']}, 95% {ratio['ci95']}"
        )


if __name__ == "__main__":
    main()
