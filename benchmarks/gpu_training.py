"""GPU training benchmark: the fastai default a user would write vs this workflow's paths.

One run, one GPU, one synthetic data set rendered at 128 px (0.296"/px):
  (a) fastai default: ImageDataLoaders over the JPEG folder (PIL per item, worker processes),
      vision_learner(resnet34), fp32, bs 64: throughput over a fixed number of batches;
  (b) plain path: this workflow's fastai Learner over device-resident uint8 tensors (bf16);
  (c) fast path: galaxy_cnn.fast (device-resident data and augmentation, fused AdamW, no syncs):
      the whole sweep 128 .. 1 px, then more seeds for accuracy parity with (b).
(b) and (c) are scored as the workflow scores them: BatchNorm statistics re-estimated over the
training images (`precise_batchnorm`), then the mean of the 8 dihedral views on the test split.
On a CPU, run it at CPU scale and check parity where it is cheap, e.g.
  --n-galaxies 3000 --epochs 5 --batch-size 64 --parity-size 16 --plain-seeds 1,2,3 \\
      --parity-seeds 1,2,3
Writes JSON after every phase (so a partial run still reports), e.g.
  python benchmarks/gpu_training.py --n-galaxies 128000 --out benchmarks/results/gpu_training.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import images, metrics, provenance, synthetic  # noqa: E402
from galaxy_cnn.fast import train_fast  # noqa: E402
from galaxy_cnn.model import precise_batchnorm  # noqa: E402
from galaxy_cnn.predict import predict_tta  # noqa: E402
from galaxy_cnn.settings import TrainSettings  # noqa: E402
from galaxy_cnn.split import split_ids  # noqa: E402

PAPER_NMAD = {
    128: 0.0668,
    64: 0.0703,
    32: 0.0715,
    16: 0.0815,
    8: 0.0870,
    4: 0.1022,
    2: 0.1198,
    1: 0.1251,
}
PAPER_RMSE = {
    128: 0.0851,
    64: 0.0893,
    32: 0.0928,
    16: 0.1053,
    8: 0.1125,
    4: 0.1290,
    2: 0.1587,
    1: 0.1610,
}


def _render_chunk(args):
    rows, out_dir, seed = args
    settings = synthetic.RenderSettings()
    for row in rows.itertuples(index=False):
        rgb = synthetic.render_galaxy(
            row, 128, 0.296, synthetic.galaxy_seed(seed, row.objID), settings
        )
        Path(out_dir, f"{row.objID}.jpg").write_bytes(images.jpeg_of(rgb, settings.jpeg_quality))
    return len(rows)


class Report:
    def __init__(self, path: Path, meta: dict):
        self.path, self.data = path, {"meta": meta, "phases": {}}
        self.save()

    def add(self, name: str, values: dict) -> None:
        self.data["phases"][name] = values
        print(f"== {name}: {json.dumps(values, default=float)}", flush=True)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=2, default=float) + "\n")


def peak_gib() -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def test_scores(model, train_x, x, y, device, batch_size: int) -> dict:
    """What the workflow does after training: re-estimate BatchNorm, then 8-view TTA on the test
    split."""
    sync()
    t0 = time.perf_counter()
    precise_batchnorm(model, torch.as_tensor(train_x), 2 * batch_size)
    sync()
    bn_seconds = time.perf_counter() - t0
    pred = predict_tta(model, x, batch_size=1024, views=8, device=device, progress=False)
    res = pred.mean - y
    return {
        "batchnorm_seconds": bn_seconds,
        "test_rmse": metrics.rmse(res),
        "test_nmad": metrics.nmad(res),
        "test_n": len(y),
    }


def fastai_default(
    cut_dir: Path, df: pd.DataFrame, n_batches: int, warmup: int, workers: int
) -> dict:
    """What a fastai user would write: JPEG folder, PIL per item, worker processes,
    vision_learner."""
    from fastai.callback.core import Callback, CancelFitException
    from fastai.vision.all import (
        ImageDataLoaders,
        RegressionBlock,
        aug_transforms,
        resnet34,
        rmse,
        vision_learner,
    )

    class Clock(Callback):
        def before_fit(self):
            self.n, self.t0 = 0, None

        def after_batch(self):
            if not self.training:
                return
            self.n += 1
            if self.n == warmup:
                sync()
                self.t0 = time.perf_counter()
            if self.n == warmup + n_batches:
                sync()
                self.seconds = time.perf_counter() - self.t0
                raise CancelFitException()

    dls = ImageDataLoaders.from_df(
        df,
        path=cut_dir,
        fn_col="fname",
        label_col="oh_p50",
        y_block=RegressionBlock,
        valid_col="is_valid",
        bs=64,
        num_workers=workers,
        batch_tfms=aug_transforms(flip_vert=True, max_rotate=10, max_zoom=1.1, max_lighting=0.05),
    )
    learn = vision_learner(
        dls,
        resnet34,
        pretrained=False,
        n_out=1,
        metrics=rmse,
        loss_func=lambda p, t: torch.sqrt(torch.nn.functional.mse_loss(p.view(-1), t.view(-1))),
    )
    clock = Clock()
    reset_peak()
    epochs = -(
        -(warmup + n_batches) // len(dls.train)
    )  # a small (CPU-scale) set needs several epochs
    learn.fit_one_cycle(epochs, 1e-3, cbs=[clock])
    ips = n_batches * 64 / clock.seconds
    n_train = int((~df["is_valid"]).sum())
    return {
        "batch_size": 64,
        "num_workers": workers,
        "images_per_s_128px": ips,
        "epoch_seconds_128px_estimated": n_train / ips,
        "peak_gpu_gib": peak_gib(),
        "measured_batches": n_batches,
        "note": "throughput over measured batches after warm-up; fp32",
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n-galaxies", type=int, default=128_000)
    ap.add_argument("--epochs", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--sizes", default="128,64,32,16,8,4,2,1")
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--work", default="/tmp/gpu_bench")
    ap.add_argument("--out", default="benchmarks/results/gpu_training.json")
    ap.add_argument(
        "--skip", default="", help="comma list of phases to skip: default,plain,parity,sweep"
    )
    ap.add_argument(
        "--parity-size",
        type=int,
        default=128,
        help="image size of the (b) runs and the parity (c) runs",
    )
    ap.add_argument("--plain-seeds", default="1", help="seeds of the plain (b) runs")
    ap.add_argument(
        "--parity-seeds", default="1,2", help="seeds of the fast (c) runs for parity with (b)"
    )
    ap.add_argument("--compile", action="store_true", help="torch.compile in the fast sweep")
    ap.add_argument(
        "--default-batches", type=int, default=200, help="batches timed for (a), after 30 warm-up"
    )
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    meta = {
        "args": vars(args),
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "cpu_count": os.cpu_count(),
        "provenance": provenance.collect(),
    }
    report = Report(Path(args.out), meta)
    work = Path(args.work)
    cut_dir = work / "cutouts"
    cut_dir.mkdir(parents=True, exist_ok=True)

    # -- data: a synthetic universe rendered on all cores, then packed -----------------------------
    cat, truth, _ = synthetic.draw_population(args.n_galaxies, seed=2019)
    rows = cat.merge(truth, on="objID")
    t0 = time.perf_counter()
    cached = all((cut_dir / f"{o}.jpg").exists() for o in cat["objID"])  # a second run in one lease
    chunks = (
        []
        if cached
        else [(rows.iloc[i : i + 500], str(cut_dir), 2019) for i in range(0, len(rows), 500)]
    )
    with Pool(args.workers) as pool:
        pool.map(_render_chunk, chunks)
    render_s = None if cached else time.perf_counter() - t0
    paths = [str(cut_dir / f"{o}.jpg") for o in cat["objID"]]
    t0 = time.perf_counter()
    errors = images.pack_images_to(
        paths, 128, str(work / "packed.npy"), workers=args.workers, chunk=1000
    )
    array = np.load(work / "packed.npy", mmap_mode="r")  # no second in-memory copy of 6 GB
    pack_s = time.perf_counter() - t0
    assert not any(errors)
    report.add(
        "data",
        {
            "n_galaxies": len(cat),
            "render_seconds": render_s,
            "render_galaxies_per_s_per_core": len(cat) / render_s / args.workers
            if render_s
            else None,
            "pack_seconds": pack_s,
            "pack_images_per_s_per_core": len(cat) / pack_s / args.workers,
        },
    )

    split = split_ids(cat["objID"].to_numpy(), [0.6, 0.2, 0.2], seed=256).set_index("objID")[
        "split"
    ]
    which = split.loc[cat["objID"]].to_numpy()
    y = cat["oh_p50"].to_numpy(np.float32)
    part = {s: (array[which == s], y[which == s]) for s in ("train", "valid", "test")}
    floor = synthetic.floor_summary(truth, synthetic.PopulationSettings())["oh_p50"]
    report.add(
        "split", {s: int((which == s).sum()) for s in ("train", "valid", "test")} | {"floor": floor}
    )
    cfg = TrainSettings(
        engine="fast",
        seed=1,
        batch_size=args.batch_size,
        lr=args.lr,
        epochs=args.epochs,
        weight_decay=0.01,
        max_shift=0.03,
    )

    if "default" not in skip:
        df = pd.DataFrame(
            {"fname": [f"{o}.jpg" for o in cat["objID"]], "oh_p50": y, "is_valid": which != "train"}
        )
        df = df[which != "test"]
        report.add(
            "a_fastai_default",
            fastai_default(
                cut_dir,
                df,
                n_batches=args.default_batches,
                warmup=min(30, args.default_batches),
                workers=args.workers,
            ),
        )

    @functools.lru_cache(maxsize=3)  # train, valid and test at the size in use: downsampled once
    def at_size(which: str, size: int) -> torch.Tensor:
        return torch.from_numpy(images.downsample(part[which][0], size))

    def fast_run(size: int, seed: int, compile_model: bool = False) -> dict:
        tx, vx = at_size("train", size), at_size("valid", size)
        reset_peak()
        sync()
        t0 = time.perf_counter()
        model, hist = train_fast(
            tx,
            torch.from_numpy(part["train"][1]),
            vx,
            torch.from_numpy(part["valid"][1]),
            size=size,
            settings=replace(cfg, seed=seed, compile=compile_model or None),
            device=device,
        )
        sync()
        seconds = time.perf_counter() - t0
        steady = [h["train_seconds"] for h in hist[1:]] or [hist[0]["train_seconds"]]
        out = {
            "size": size,
            "seed": seed,
            "batch_size": cfg.batch_size,
            "train_seconds": seconds,
            "epoch_seconds": [h["seconds"] for h in hist],
            "epoch_train_only_seconds": [h["train_seconds"] for h in hist],
            "images_per_s": len(tx) / float(np.median(steady)),
            "peak_gpu_gib": peak_gib(),
            "valid_rmse": hist[-1]["valid_rmse"],
            "compile": compile_model,
        }
        return out | test_scores(
            model, tx, at_size("test", size), part["test"][1], device, cfg.batch_size
        )

    if "plain" not in skip:
        from galaxy_cnn.train import TrainData, _train_fastai

        size = args.parity_size
        data = TrainData(
            at_size("train", size),
            torch.from_numpy(part["train"][1]),
            at_size("valid", size),
            torch.from_numpy(part["valid"][1]),
            {},
        )
        for seed in [int(s) for s in args.plain_seeds.split(",")]:
            reset_peak()
            sync()
            torch.manual_seed(seed)  # the model's initial weights
            t0 = time.perf_counter()
            model, hist = _train_fastai(
                data, size, replace(cfg, engine="fastai", seed=seed), device
            )
            sync()
            seconds = time.perf_counter() - t0
            report.add(
                f"b_plain_{size}px_seed{seed}",
                {
                    "size": size,
                    "seed": seed,
                    "train_seconds": seconds,
                    "images_per_s": len(data.train_x) * args.epochs / seconds,
                    "peak_gpu_gib": peak_gib(),
                    "valid_rmse": float(hist["valid_rmse"].iloc[-1]),
                }
                | test_scores(
                    model,
                    data.train_x,
                    at_size("test", size),
                    part["test"][1],
                    device,
                    cfg.batch_size,
                ),
            )
            del model
        del data

    sweep = []
    if "sweep" not in skip:
        for size in [int(s) for s in args.sizes.split(",")]:
            r = fast_run(size, 1, args.compile)
            r |= {"paper_rmse": PAPER_RMSE.get(size), "paper_nmad": PAPER_NMAD.get(size)}
            sweep.append(r)
            report.add(f"sweep_{size}px", r)
        report.add(
            "sweep",
            {
                "sizes": [r["size"] for r in sweep],
                "total_train_seconds": sum(r["train_seconds"] for r in sweep),
                "compile": args.compile,
            },
        )

    if "parity" not in skip:
        for seed in [int(s) for s in args.parity_seeds.split(",")]:
            size = args.parity_size
            if (size, seed) in {(r["size"], r["seed"]) for r in sweep}:
                print(f"fast {size} px seed {seed}: the sweep ran it already", flush=True)
                continue
            report.add(
                f"c_fast_{size}px_seed{seed}_bs{args.batch_size}",
                fast_run(size, seed, args.compile),
            )


if __name__ == "__main__":
    main()
