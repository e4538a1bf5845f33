"""Figure and Markdown table from the GPU training benchmark JSON files.

  python benchmarks/plot_gpu_training.py benchmarks/results/gpu_training_h100_*.json
writes benchmarks/results/gpu_training.png and gpu_training.md (the README's table).
"""

from __future__ import annotations

import json
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
        runs[Path(p).stem] = d
    return runs


def rows(runs: dict[str, dict]) -> list[dict]:
    out = []
    for name, d in runs.items():
        for phase, v in d["phases"].items():
            if phase == "a_fastai_default":
                out.append({"run": name, "path": "(a) fastai default, JPEG folder, fp32", "size": 128,
                            "images_per_s": v["images_per_s_128px"], "epoch_s": v["epoch_seconds_128px_estimated"],
                            "peak_gib": v["peak_gpu_gib"], "test_rmse": None, "test_nmad": None})
            elif phase == "b_plain_128px":
                out.append({"run": name, "path": "(b) plain: fastai Learner, device tensors, bf16", "size": 128,
                            "images_per_s": v["images_per_s"], "epoch_s": v["train_seconds"] / 7,
                            "peak_gib": v["peak_gpu_gib"], "test_rmse": v["test_rmse"], "test_nmad": v["test_nmad"]})
            elif "size" in v:
                graphs = "graphs" in name
                label = "(c) fast, CUDA graphs" if graphs else "(c) fast, eager"
                out.append({"run": name, "path": f"{label}, seed {v['seed']}", "size": v["size"],
                            "images_per_s": v["images_per_s"],
                            "epoch_s": sum(v.get("epoch_train_only_seconds", v["epoch_seconds"])[1:])
                            / max(1, len(v["epoch_seconds"]) - 1),
                            "peak_gib": v["peak_gpu_gib"], "test_rmse": v["test_rmse"], "test_nmad": v["test_nmad"],
                            "train_s": v["train_seconds"]})
    return out


def fmt(x, spec):
    return "" if x is None else format(x, spec)


def table(rs: list[dict], device: str) -> str:
    lines = [f"Device: {device}. 76,800 training / 25,600 test synthetic galaxies, 7 epochs, bs 256 (a: bs 64).",
             "", "| run (JSON) | path | size px | train images/s | epoch s | peak GPU GiB | test RMSE | test NMAD |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rs, key=lambda r: (-r["size"], r["path"])):
        lines.append(f"| {r['run'].removeprefix('gpu_training_h100_')} | {r['path']} | {r['size']} | {r['images_per_s']:,.0f} | {r['epoch_s']:.2f} | "
                     f"{r['peak_gib']:.1f} | {fmt(r['test_rmse'], '.4f')} | {fmt(r['test_nmad'], '.4f')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    paths = sys.argv[1:]
    runs = load(paths)
    rs = rows(runs)
    device = next(iter(runs.values()))["meta"]["device"]
    out = Path(paths[0]).parent
    (out / "gpu_training.md").write_text(table(rs, device))
    style.apply()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, marker in (("(c) fast, CUDA graphs", "o"), ("(c) fast, eager", "s")):
        pts = sorted((r["size"], r["images_per_s"]) for r in rs if r["path"].startswith(label) and "seed 1" in r["path"])
        if pts:
            ax.plot(*zip(*pts, strict=True), marker=marker, label=label)
    for r in rs:
        if r["path"].startswith(("(a)", "(b)")):
            ax.scatter([r["size"]], [r["images_per_s"]], marker="^" if "(a)" in r["path"] else "v",
                       s=60, zorder=3, label=f"{r['path'].split(',')[0]} [{r['run'].removeprefix('gpu_training_h100_')}]")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("image size (px)")
    ax.set_ylabel("training images / s")
    ax.set_title(f"ResNet-34 training throughput, {device}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "gpu_training.png", dpi=150)
    print((out / "gpu_training.md").read_text())


if __name__ == "__main__":
    main()
