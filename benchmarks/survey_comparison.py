"""SDSS-like against Legacy-Surveys-like images of the same synthetic galaxies, from a finished run
with `compare.run` (config/science_cpu_ls.yaml, compared with a config/science_cpu.yaml run).

Writes the run's comparison table (both runs' NMAD at each size, their paired ratio, the other
run's models on this run's images), both runs' RMSE, and how much of each truth term each run's
predictions recover, with the two runs' configurations and provenance.
  python benchmarks/survey_comparison.py <run> --out benchmarks/results/survey_comparison_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from science_check import term_recovery

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import provenance  # noqa: E402


def run_summary(run: Path, target: str, sizes: list[int]) -> dict:
    """A run's images, metrics and term recovery at `sizes`."""
    r = run / "results"
    metrics = pd.read_csv(r / "metrics.csv").query("target == @target").set_index("size")
    truth = pd.read_csv(r / "synthetic" / "truth.csv")
    cat = pd.read_csv(r / "catalog.csv", usecols=["objID", "lgm_tot_p50"])
    terms = [t for t in truth.columns if t.endswith("_term")] + ["hidden_scatter"]
    model = json.loads((r / "models" / f"{target}-{max(sizes)}px.json").read_text())
    per_size = {}
    for size in sizes:
        pred = pd.read_csv(r / "predictions" / f"{target}-{size}px.csv")
        m = metrics.loc[size]
        per_size[size] = {
            k: float(m[k]) for k in ("rmse", "rmse_lo", "rmse_hi", "nmad", "nmad_lo", "nmad_hi")
        } | {"term_recovery": term_recovery(pred, truth, cat, terms)}
    catalog = json.loads((r / "catalog.json").read_text())
    return {
        "run": str(run),
        "images": model["cutouts"],
        "renderer_digest": catalog.get("renderer_digest"),
        "train": model["members"][0]["train"],
        "sizes": per_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("run", type=Path, help="the run made with compare.run set")
    ap.add_argument("--target", default="oh_p50")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    table = pd.read_csv(args.run / "results" / "comparison" / "comparison.csv")
    sizes = [int(s) for s in table["size"]]
    meta = json.loads((args.run / "results" / "comparison" / "comparison.json").read_text())
    other = (args.run / meta["other_run"]).resolve()
    report = {
        "what": "the same synthetic galaxies seen by SDSS and by the Legacy Surveys",
        "labels": meta["labels"],
        "comparison": table.to_dict("records"),
        "this": run_summary(args.run, args.target, sizes),
        "other": run_summary(other, args.target, sizes),
        "provenance": provenance.collect(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print((args.run / "results" / "comparison" / "comparison.md").read_text())


if __name__ == "__main__":
    main()
