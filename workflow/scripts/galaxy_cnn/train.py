"""Training one (target, size) model with either engine on device-resident uint8 tensors.

`fastai` is a fastai Learner (the plain path), `fast` the GPU-resident loop of `fast.py`; both
use the same batches (`batches.DeviceBatches`), model set-up (`model.build_model`) and loss.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from fastai.callback.schedule import fit_one_cycle  # noqa: F401  (patches Learner)
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.optimizer import Adam
from fastai.torch_core import set_seed

from . import files, provenance
from .batches import DeviceBatches
from .catalog import read_catalog
from .checks import train_problems
from .device import resolve_device
from .errors import InputError
from .images import downsample, load_packed
from .model import (
    GalaxyRegressor,
    TrainingLoss,
    build_model,
    precise_batchnorm,
    rmse_loss,
    save_model,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    """The `train` section of the config. Engine-specific settings are None when not set."""

    engine: str = "fastai"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    max_shift: float = 0.03
    device: str = "auto"
    seed: int = 42
    loss: str = "gaussian"  # see model.TrainingLoss
    pretrained: str | None = None
    freeze_epochs: int = 0  # fastai engine with pretrained weights: head-only epochs first
    compile: bool | None = None  # fast engine: torch.compile the model
    cuda_graphs: bool | None = (
        None  # fast engine: replay forward/backward as CUDA graphs (default on CUDA)
    )

    def __post_init__(self):
        problems = train_problems(asdict(self))
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class TrainData:
    """Images at the training size and targets for the train and valid splits."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    excluded: dict


def select_split(
    index: pd.DataFrame,
    catalog: pd.DataFrame,
    split: pd.DataFrame,
    target: str,
    which: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Rows of `which` split with a finite target: (row numbers, objIDs, targets, n_missing)."""
    if target not in catalog.columns:
        raise KeyError(
            f"targets: column '{target}' is not in the catalog (columns: {list(catalog.columns)})"
        )
    ids = split.loc[split["split"] == which, "objID"]
    df = index[index["objID"].isin(ids)].merge(catalog[["objID", target]], on="objID", how="left")
    finite = np.isfinite(df[target].to_numpy(dtype=float))
    df = df[finite].sort_values("row")  # sorted rows read a memory-mapped array fastest
    return (
        df["row"].to_numpy(),
        df["objID"].to_numpy(),
        df[target].to_numpy(float),
        int((~finite).sum()),
    )


def load_train_data(
    packed: str, index_csv: str, catalog_csv: str, split_csv: str, target: str, size: int
) -> TrainData:
    images, index = load_packed(packed, index_csv)
    catalog = read_catalog(catalog_csv)
    split = pd.read_csv(split_csv, dtype={"objID": "int64"})
    parts, excluded = {}, {}
    for which in ("train", "valid"):
        rows, _, y, n_missing = select_split(index, catalog, split, target, which)
        parts[which] = (torch.from_numpy(downsample(images[rows], size)), torch.tensor(y))
        excluded[f"{which}_missing_{target}"] = n_missing
    return TrainData(*parts["train"], *parts["valid"], excluded=excluded)


def train_model(
    packed: str,
    index_csv: str,
    catalog_csv: str,
    split_csv: str,
    pack_report: str,
    target: str,
    size: int,
    out_model: str,
    out_history: str,
    out_meta: str,
    settings: dict,
    threads: int = 1,
) -> dict:
    """Train one ResNet-34 (mean and sigma of `target` at `size` px) with the seed in `settings`;
    save it (a one-member model file), its history and its metadata."""
    s = TrainSettings(**settings)
    torch.set_num_threads(max(1, threads))
    set_seed(s.seed, reproducible=True)
    device = resolve_device(s.device)
    data = load_train_data(packed, index_csv, catalog_csv, split_csv, target, size)
    if len(data.train_x) < s.batch_size:
        raise InputError(
            f"only {len(data.train_x)} training galaxies for {target}: fewer than train.batch_size={s.batch_size}"
        )
    t0 = time.perf_counter()
    if s.engine == "fast":
        from .fast import train_fast

        model, rows = train_fast(
            data.train_x, data.train_y, data.valid_x, data.valid_y, size, s, device, log=log.info
        )
        history = pd.DataFrame(rows)[["epoch", "train_loss", "valid_rmse", "train_seconds"]]
    else:
        model, history = _train_fastai(data, size, s, device)
    precise_batchnorm(model, data.train_x, 2 * s.batch_size)
    if s.loss == "rmse":
        model.drop_sigma_head()
    if len(data.valid_x):
        from .fast import evaluate

        valid = float(
            evaluate(
                model,
                data.valid_x.to(device),
                data.valid_y.float().to(device),
                2 * s.batch_size,
                nullcontext(),
            )
        )
        log.info("validation RMSE after re-estimating BatchNorm statistics: %.4f", valid)
    model.eval()
    seconds = time.perf_counter() - t0
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        y = data.train_y.double()
        raise InputError(
            f"training {target} at {size} px diverged (non-finite weights); try a lower train.lr (now {s.lr}), "
            f"check the training targets (min {float(y.min()):.4g}, max {float(y.max()):.4g}, std "
            f"{float(y.std()):.4g}) and that the images at {size} px are not all identical"
        )
    files.write_csv(history, out_history)
    cutouts = files.read_json(pack_report)["cutouts"]
    meta = {
        "target": target,
        "size": size,
        "n_train": len(data.train_x),
        "n_valid": len(data.valid_x),
        "excluded": data.excluded,
        "train_seconds": seconds,
        "device": str(device),
        "cutouts": {
            "size": cutouts["size"],
            "scale": cutouts["scale"],
            "source": cutouts["source"],
        },
        "train": asdict(s),
        "provenance": provenance.collect(),
    }
    save_model([model], out_model, meta)
    files.write_json(meta, out_meta)
    return meta


def _train_fastai(
    data: TrainData, size: int, s: TrainSettings, device: torch.device
) -> tuple[GalaxyRegressor, pd.DataFrame]:
    """The plain path: a fastai Learner over device-resident tensor batches."""
    model = build_model(data.train_y, s.pretrained, device)
    max_shift = int(round(s.max_shift * size))
    dls = DataLoaders(
        DeviceBatches(data.train_x, data.train_y, s.batch_size, True, max_shift, s.seed, device),
        DeviceBatches(data.valid_x, data.valid_y, 2 * s.batch_size, False, device=device),
        device=device,
    )
    learn = Learner(
        dls,
        model,
        loss_func=TrainingLoss(s.loss, float(model.y_std)),
        opt_func=Adam,
        wd=s.weight_decay,
        metrics=[rmse_loss],
        splitter=lambda m: [
            list(m.body.parameters()),
            list(m.head.parameters()) + list(m.sigma_head.parameters()),
        ],
    )
    if device.type == "cuda":
        learn = learn.to_bf16()
    log.info(
        "fastai: %d train / %d valid galaxies at %d px on %s",
        len(data.train_x),
        len(data.valid_x),
        size,
        device,
    )
    if s.pretrained:
        learn.fine_tune(s.epochs, base_lr=s.lr, freeze_epochs=s.freeze_epochs)
    else:
        learn.fit_one_cycle(s.epochs, lr_max=s.lr)
    rows = [
        (v[0], v[2] if len(v) > 2 else np.nan) for v in learn.recorder.values
    ]  # no valid set: no metric
    history = pd.DataFrame(rows, columns=["train_loss", "valid_rmse"])
    history.insert(0, "epoch", np.arange(len(history)))
    return learn.model, history
