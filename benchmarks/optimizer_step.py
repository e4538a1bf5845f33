"""Optimizer step time for the ResNet-34 regressor (21M parameters) on this machine's CPU.

Why: on a CPU the unfused AdamW costs more per step than the forward and backward pass of a
small image; `galaxy_cnn.fast` uses the fused one on CPUs too. Baselines in the same run:
torch AdamW (for-loop, foreach) and fastai's Adam (the plain path's optimizer).
  python benchmarks/optimizer_step.py --out benchmarks/results/optimizer_step.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import provenance  # noqa: E402
from galaxy_cnn.model import GalaxyRegressor, rmse_loss  # noqa: E402


def step_ms(
    model: torch.nn.Module, opt, x: torch.Tensor, y: torch.Tensor, steps: int, warmup: int = 3
) -> dict:
    """Median milliseconds of forward+backward and of opt.step()."""
    fwd_bwd, update = [], []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        loss = rmse_loss(model(x).float(), y)
        opt.zero_grad()
        loss.backward()
        t1 = time.perf_counter()
        opt.step()
        t2 = time.perf_counter()
        if i >= warmup:
            fwd_bwd.append(t1 - t0)
            update.append(t2 - t1)
    return {
        "forward_backward_ms": 1e3 * statistics.median(fwd_bwd),
        "optimizer_step_ms": 1e3 * statistics.median(update),
    }


def main() -> None:
    from fastai.optimizer import Adam

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--size", type=int, default=4, help="image size (px): small, so the update shows"
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default="benchmarks/results/optimizer_step.json")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = GalaxyRegressor(9.0, 0.2)
    x = torch.rand(args.batch_size, 3, args.size, args.size) * 255
    y = torch.rand(args.batch_size)
    params = list(model.parameters())
    optimizers = {
        "torch AdamW, for-loop": lambda: torch.optim.AdamW(params, foreach=False),
        "torch AdamW, foreach": lambda: torch.optim.AdamW(params, foreach=True),
        "torch AdamW, fused (galaxy_cnn.fast)": lambda: torch.optim.AdamW(params, fused=True),
        "fastai Adam (plain path)": lambda: Adam(params, lr=1e-3, wd=0.01),
    }
    results = {}
    for name, make in optimizers.items():
        results[name] = step_ms(model, make(), x, y, args.steps)
        print(
            f"{name:38s} forward+backward {results[name]['forward_backward_ms']:6.1f} ms   "
            f"step {results[name]['optimizer_step_ms']:6.1f} ms",
            flush=True,
        )
    out = {
        "args": vars(args),
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in params),
        "results": results,
        "provenance": provenance.collect(),
    }
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
