"""Per-galaxy uncertainties: the options measured on the same data before choosing one.

On a finished run's packed cutouts and split (e.g. the CPU science check), at one image size:
  point      RMSE loss (the paper), sigma from the spread of the 8 views only
  gaussian   RMSE for the mean + Gaussian NLL for sigma with the mean held fixed (the default)
  beta_nll   Seitzer et al. (2022), beta = 0.5
  ensembles  the mean of 3 seeds, sigma from the spread of views and seeds (+ the sigma heads)
Every option's sigma is scaled on the validation split exactly as the workflow does. Test scores:
RMSE, NMAD, coverage of +-1 and +-2 sigma, mean NLL, rank correlation of |residual| with sigma.
  python benchmarks/uncertainty_options.py <run dir> --size 16 \\
      --out benchmarks/results/uncertainty_options.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import metrics, provenance  # noqa: E402
from galaxy_cnn.dataset import load_split  # noqa: E402
from galaxy_cnn.fast import train_fast  # noqa: E402
from galaxy_cnn.model import Ensemble, precise_batchnorm  # noqa: E402
from galaxy_cnn.predict import calibrate_sigma, predict_tta  # noqa: E402
from galaxy_cnn.settings import TrainSettings  # noqa: E402
from galaxy_cnn.train import load_train_data  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("run", type=Path)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    r = args.run / "results"
    paths = [
        str(r / p) for p in ("packed/images.npy", "packed/index.csv", "catalog.csv", "split.csv")
    ]
    data = load_train_data(*paths, target="oh_p50", size=args.size)
    test_split = load_split(*paths, target="oh_p50", which="test", size=args.size)
    test_x, test_y = test_split.images, test_split.targets
    valid_x, valid_y = data.valid_x.numpy(), data.valid_y.numpy()
    base = TrainSettings(
        engine="fast",
        epochs=args.epochs,
        batch_size=64,
        lr=3e-3,
        weight_decay=0.01,
        max_shift=0.03,
        device="cpu",
    )
    seeds = [int(s) for s in args.seeds.split(",")]
    members: dict[tuple[str, int], torch.nn.Module] = {}
    timings = {}
    for loss, loss_seeds in (("rmse", seeds), ("gaussian", seeds), ("beta_nll", seeds[:1])):
        for seed in loss_seeds:
            t0 = time.perf_counter()
            model, _ = train_fast(
                data.train_x,
                data.train_y,
                data.valid_x,
                data.valid_y,
                size=args.size,
                settings=replace(base, loss=loss, seed=seed),
                device=torch.device("cpu"),
                log=lambda m: None,
            )
            precise_batchnorm(model, data.train_x, 128)
            if loss == "rmse":
                # as the workflow does: sigma from the spread of views and seeds
                model.drop_sigma_head()
            members[(loss, seed)] = model.eval()
            timings[f"{loss}_seed{seed}"] = time.perf_counter() - t0
            print(
                f"trained {loss} seed {seed} in {timings[f'{loss}_seed{seed}']:.0f} s", flush=True
            )
    options = {
        "point (rmse, 1 seed)": [("rmse", seeds[0])],
        "gaussian (1 seed)": [("gaussian", seeds[0])],
        "beta_nll (1 seed)": [("beta_nll", seeds[0])],
        f"ensemble of {len(seeds)} rmse seeds": [("rmse", s) for s in seeds],
        f"ensemble of {len(seeds)} gaussian seeds": [("gaussian", s) for s in seeds],
    }
    options |= {f"gaussian seed {s}": [("gaussian", s)] for s in seeds[1:]}
    options |= {f"point seed {s}": [("rmse", s)] for s in seeds[1:]}
    results = {}
    for name, keys in options.items():
        ens = Ensemble([members[k] for k in keys])
        valid = predict_tta(ens, valid_x, 256, 8, "cpu", progress=False)
        scale = calibrate_sigma(valid_y, valid.mean, valid.std)
        test = predict_tta(ens, test_x, 256, 8, "cpu", progress=False)
        res = test.mean - test_y
        results[name] = {
            "rmse": metrics.rmse(res),
            "nmad": metrics.nmad(res),
            "sigma_scale": scale,
            **metrics.uncertainty_summary(test_y, test.mean, test.std * scale),
        }
        print(name, {k: round(v, 4) for k, v in results[name].items()}, flush=True)
    report = {
        "what": "uncertainty options on the same data",
        "run": str(args.run),
        "size": args.size,
        "n_train": len(data.train_x),
        "n_valid": len(valid_y),
        "n_test": len(test_y),
        "epochs": args.epochs,
        "seeds": seeds,
        "results": results,
        "train_seconds": timings,
        "provenance": provenance.collect(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
