"""Figure and Markdown table from the GPU training benchmark JSON files (runs on one device).

  python benchmarks/plot_gpu_training.py benchmarks/results/gpu_training_h100_*.json
writes benchmarks/results/gpu_training.png and gpu_training.md (the README's table);
  python benchmarks/plot_gpu_training.py --stem gpu_training_cpu \
      benchmarks/results/gpu_training_cpu.json
the same for the CPU-scale run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import style  # noqa: E402


def load(paths: list[str]) -> dict[str, dict]:
    runs = {}
    for p in paths:
        d = json.loads(Path(p).read_text())
        runs[
            Path(p).stem.removeprefix("gpu_training").removeprefix("_h100").strip("_") or "run"
        ] = d
    return runs


def steady_epoch_seconds(seconds: list[float]) -> float:
    """Mean epoch time after the first (warm-up, graph capture) epoch."""
    steady = seconds[1:] or seconds
    return sum(steady) / len(steady)


def rows(runs: dict[str, dict]) -> list[dict]:
    out = []
    for name, d in runs.items():
        precision = "fp32" if d["meta"]["device"] == "cpu" else "bf16"
        for phase, v in d["phases"].items():
            if phase == "a_fastai_default":
                out.append(
                    {
                        "run": name,
                        "path": "(a) fastai default, JPEG folder, fp32",
                        "size": 128,
                        "images_per_s": v["images_per_s_128px"],
                        "epoch_s": v["epoch_seconds_128px_estimated"],
                        "peak_gib": v["peak_gpu_gib"],
                        "test_rmse": None,
                        "test_nmad": None,
                    }
                )
            elif phase.startswith("b_plain"):
                out.append(
                    {
                        "run": name,
                        "path": f"(b) plain: fastai Learner, device tensors, {precision}, seed "
                        f"{v.get('seed', 1)}",
                        "size": v.get("size", 128),
                        "images_per_s": v["images_per_s"],
                        "epoch_s": v["train_seconds"] / d["meta"]["args"]["epochs"],
                        "peak_gib": v["peak_gpu_gib"],
                        "test_rmse": v["test_rmse"],
                        "test_nmad": v["test_nmad"],
                    }
                )
            elif "size" in v:
                graphs = "graphs" in name
                label = "(c) fast, CUDA graphs" if graphs else "(c) fast, eager"
                out.append(
                    {
                        "run": name,
                        "path": f"{label}, seed {v['seed']}",
                        "size": v["size"],
                        "images_per_s": v["images_per_s"],
                        "epoch_s": steady_epoch_seconds(
                            v.get("epoch_train_only_seconds", v["epoch_seconds"])
                        ),
                        "peak_gib": v["peak_gpu_gib"],
                        "test_rmse": v["test_rmse"],
                        "test_nmad": v["test_nmad"],
                        "train_s": v["train_seconds"],
                    }
                )
    return out


def fmt(x, spec):
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def table(rs: list[dict], run: dict) -> str:
    split, args = run["phases"]["split"], run["meta"]["args"]
    lines = [
        f"Device: {run['meta']['device']}. {split['train']:,} training / "
        f"{split['test']:,} test synthetic "
        f"galaxies, {args['epochs']} epochs, bs {args['batch_size']} (a: bs 64).",
        "",
        "| run (JSON) | path | size px | train images/s | epoch s | peak GPU GiB "
        "| test RMSE | test NMAD |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rs, key=lambda r: (-r["size"], r["path"])):
        lines.append(
            f"| {r['run']} | {r['path']} | {r['size']} | {r['images_per_s']:,.0f} "
            f"| {r['epoch_s']:.2f} | {fmt(r['peak_gib'], '.1f')} "
            f"| {fmt(r['test_rmse'], '.4f')} | {fmt(r['test_nmad'], '.4f')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("json", nargs="+", help="benchmark JSON files from one device")
    ap.add_argument(
        "--stem", default="gpu_training", help="name of the .md and .png written beside the JSON"
    )
    args = ap.parse_args()
    runs = load(args.json)
    devices = {d["meta"]["device"] for d in runs.values()}
    if len(devices) > 1:
        sys.exit(f"runs from several devices {sorted(devices)}: plot each device on its own")
    rs = rows(runs)
    device = devices.pop()
    out = Path(args.json[0]).parent
    md = out / f"{args.stem}.md"
    md.write_text(table(rs, next(iter(runs.values()))))
    style.apply()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, marker in (("(c) fast, CUDA graphs", "o"), ("(c) fast, eager", "s")):
        pts = sorted(
            {
                r["size"]: r["images_per_s"]
                for r in rs
                if r["path"].startswith(label) and r["path"].endswith("seed 1")
            }.items()
        )
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=marker, label=label)
    for r in rs:
        if r["path"].startswith(("(a)", "(b)")):
            ax.scatter(
                [r["size"]],
                [r["images_per_s"]],
                marker="^" if "(a)" in r["path"] else "v",
                s=60,
                zorder=3,
                label=f"{r['path'].split(',')[0]} [{r['run']}]",
            )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("image size (px)")
    ax.set_ylabel("training images / s")
    ax.set_title(f"ResNet-34 training throughput, {device}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{args.stem}.png", dpi=150)
    print(md.read_text())


if __name__ == "__main__":
    main()
