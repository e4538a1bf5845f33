"""Apply throughput and memory: how fast a trained model predicts new galaxies, and that memory
stays flat as the number of galaxies grows.

Measured in fresh subprocesses on the same JPEG cutouts (e.g. a synthetic run's 128 px cutouts):
  folder    the workflow's path: `apply.predict_shard` streaming a JPEG folder in chunks
  packed    predicting a packed uint8 array (memory-mapped .npy) chunk by chunk
  in-memory the baseline: every image decoded into one array first, then predicted (the old apply)
Throughput uses a 128 px model with 8 dihedral views; the memory series uses an 8 px model, where
decoding and holding images dominates, for N up to all the cutouts given.
  python benchmarks/apply_throughput.py <cutouts dir> \\
      --out benchmarks/results/apply_throughput_cpu.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

WORKER = r"""
import json, sys, time
sys.path.insert(0, {scripts!r})
import numpy as np, torch
from galaxy_cnn import apply
from galaxy_cnn.images import downsample, read_local_image
from galaxy_cnn.model import load_model
from galaxy_cnn.predict import predict_tta
torch.set_num_threads({threads})
mode, model_path, inputs, npy = {mode!r}, {model!r}, {inputs!r}, {npy!r}
views, chunk = {views}, {chunk}
t0 = time.perf_counter()
if mode == "folder":
    apply.predict_shard(model_path, inputs, shard=0, n_shards=1, out_csv={out!r}, device="cpu",
                        views=views, batch_size=256, chunk=chunk)
else:
    model, meta = load_model(model_path)
    if mode == "packed":
        arr = np.load(npy, mmap_mode="r")
        for s in range(0, len(arr), chunk):
            predict_tta(
                model, downsample(arr[s:s + chunk], meta["size"]), 256, views, "cpu", progress=False
            )
    else:
        import pandas as pd
        table = apply.read_inputs(inputs)
        images = np.stack(
            [read_local_image(__import__("pathlib").Path(p), 128) for p in table["image"]]
        )
        predict_tta(model, downsample(images, meta["size"]), 256, views, "cpu", progress=False)
seconds = time.perf_counter() - t0
# VmHWM: this process's own peak RSS (ru_maxrss would also count the parent's at the fork)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({{"seconds": seconds, "peak_rss_mb": hwm / 1024}}))
"""


def run(
    mode: str, model: str, inputs: str, npy: str, *, views: int, chunk: int, threads: int, tmp: str
) -> dict:
    code = WORKER.format(
        scripts=str(ROOT / "workflow" / "scripts"),
        threads=threads,
        mode=mode,
        model=model,
        inputs=inputs,
        npy=npy,
        views=views,
        chunk=chunk,
        out=f"{tmp}/shard.csv",
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(
    mode: str, model_px: int, n: int, inputs: str, npy: str, *, chunk: int, threads: int, tmp: str
) -> dict:
    """One result row: `mode` on the first `n` cutouts with the `model_px` model (8 views), timed
    in a fresh process; printed as it comes, since a whole series takes minutes."""
    got = run(
        mode, f"{tmp}/m{model_px}.pt", inputs, npy, views=8, chunk=chunk, threads=threads, tmp=tmp
    )
    row = {
        "mode": mode,
        "model_px": model_px,
        "views": 8,
        "n": n,
        **got,
        "galaxies_per_s": n / got["seconds"],
    }
    print(row, flush=True)
    return row


def main() -> None:
    from galaxy_cnn import apply, provenance
    from galaxy_cnn.images import pack_images
    from galaxy_cnn.model import GalaxyRegressor, save_model

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("cutouts", type=Path)
    ap.add_argument("--throughput-n", type=int, default=256)
    ap.add_argument("--memory-n", default="500,2000,8000")
    ap.add_argument("--chunk", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    files = sorted(args.cutouts.glob("*.jpg"))
    report = {
        "what": "apply throughput and peak memory on this machine's CPU",
        "cutouts": str(args.cutouts),
        "chunk": args.chunk,
        "threads": args.threads,
        "throughput": [],
        "memory": [],
        "provenance": provenance.collect(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for size in (128, 8):
            save_model(
                [GalaxyRegressor(8.9, 0.2).eval()],
                f"{tmp}/m{size}.pt",
                {"target": "oh_p50", "size": size, "cutouts": {"size": 128, "scale": 0.296}},
            )

        def prepare(n: int) -> tuple[str, str]:
            folder = Path(tmp) / f"in{n}"
            folder.mkdir(exist_ok=True)
            for f in files[:n]:
                target = folder / f.name
                if not target.exists():
                    target.symlink_to(f.resolve())
            apply.list_inputs("images", f"{tmp}/inputs{n}.csv", folder=str(folder))
            arr, _ = pack_images([str(f) for f in files[:n]], 128)
            np.save(f"{tmp}/packed{n}.npy", arr)
            return f"{tmp}/inputs{n}.csv", f"{tmp}/packed{n}.npy"

        n = min(args.throughput_n, len(files))
        inputs, npy = prepare(n)
        for mode in ("folder", "packed"):
            row = measure(
                mode, 128, n, inputs, npy, chunk=args.chunk, threads=args.threads, tmp=tmp
            )
            report["throughput"].append(row)
        for n in [min(int(v), len(files)) for v in args.memory_n.split(",")]:
            inputs, npy = prepare(n)
            for mode in ("folder", "packed", "in-memory"):
                row = measure(
                    mode, 8, n, inputs, npy, chunk=args.chunk, threads=args.threads, tmp=tmp
                )
                report["memory"].append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(pd.DataFrame(report["throughput"] + report["memory"]).to_string(index=False))


if __name__ == "__main__":
    main()
