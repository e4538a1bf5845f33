"""Training one (target, size) model with fastai on device-resident uint8 tensors.

The decoded cutouts stay uint8 on the training device; each batch is gathered, augmented
(random dihedral symmetry + small shift) and cast on that device, so there are no loader
workers and no per-image Python on the hot path.
"""

from __future__ import annotations

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from fastai.callback.schedule import fit_one_cycle  # noqa: F401  (patches Learner)
from fastai.data.core import DataLoaders
from fastai.learner import Learner
from fastai.optimizer import Adam
from fastai.torch_core import set_seed

from . import files, provenance
from .augment import random_dihedral, random_shift
from .catalog import read_catalog
from .images import downsample, load_packed
from .model import GalaxyRegressor, load_imagenet_body, precise_batchnorm, rmse_loss, save_model

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else CPU; an explicit device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"train.device is '{name}' but no CUDA device is available")
    return torch.device(name)


class TensorBatches:
    """An iterable of (images, targets) batches from uint8 (N, H, W, 3) data kept on `device`."""

    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor,
        batch_size: int,
        train: bool,
        seed: int = 0,
        max_shift: int = 0,
        device: torch.device | str = "cpu",
    ):
        self.images, self.targets = images, targets.float()
        self.bs, self.train, self.max_shift = batch_size, train, max_shift
        self.generator = torch.Generator().manual_seed(seed)
        self.dataset = self  # fastai reads dls.train_ds
        self.to(device)

    def to(self, device: torch.device | str) -> TensorBatches:
        self.device = torch.device(device)
        self.images = self.images.to(self.device)
        self.targets = self.targets.to(self.device)
        return self

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.bs if self.train and n >= self.bs else math.ceil(n / self.bs)

    def __iter__(self):
        n = len(self.images)
        order = torch.randperm(n, generator=self.generator) if self.train else torch.arange(n)
        for b in range(len(self)):
            idx = order[b * self.bs : (b + 1) * self.bs]
            x = self.images[idx.to(self.device)].permute(0, 3, 1, 2).float()
            if self.train:
                ks = torch.randint(0, 8, (len(idx),), generator=self.generator)
                x = random_dihedral(x, ks.to(self.device))
                if self.max_shift:
                    sh = torch.randint(-self.max_shift, self.max_shift + 1, (len(idx), 2), generator=self.generator)
                    x = random_shift(x, sh.to(self.device), self.max_shift)
            if self.device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, self.targets[idx.to(self.device)]


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
        raise KeyError(f"targets: column '{target}' is not in the catalog (columns: {list(catalog.columns)})")
    ids = split.loc[split["split"] == which, "objID"]
    df = index[index["objID"].isin(ids)].merge(catalog[["objID", target]], on="objID", how="left")
    finite = np.isfinite(df[target].to_numpy(dtype=float))
    df = df[finite].sort_values("row")  # sorted rows read a memory-mapped array fastest
    return df["row"].to_numpy(), df["objID"].to_numpy(), df[target].to_numpy(float), int((~finite).sum())


def load_train_data(packed: str, index_csv: str, catalog_csv: str, split_csv: str, target: str, size: int) -> TrainData:
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
    target: str,
    size: int,
    out_model: str,
    out_history: str,
    cfg: dict,
    threads: int = 1,
    cutouts: dict | None = None,
) -> dict:
    """Train a ResNet-34 regressor for `target` at `size` px; save the model and its history."""
    torch.set_num_threads(max(1, threads))
    set_seed(cfg["seed"], reproducible=True)
    device = resolve_device(cfg["device"])
    data = load_train_data(packed, index_csv, catalog_csv, split_csv, target, size)
    if len(data.train_x) < cfg["batch_size"]:
        raise ValueError(
            f"only {len(data.train_x)} training galaxies for {target}: fewer than train.batch_size={cfg['batch_size']}"
        )
    t0 = time.perf_counter()
    if cfg["engine"] == "fast":
        from .fast import train_fast

        model, rows = train_fast(data.train_x, data.train_y, data.valid_x, data.valid_y, size, cfg, device,
                                 compile_model=cfg["compile"], log=log.info)
        history = pd.DataFrame(rows)[["epoch", "train_rmse", "valid_rmse"]]
    else:
        model, history = _train_fastai(data, size, cfg, device)
    precise_batchnorm(model, data.train_x, 2 * cfg["batch_size"])
    if len(data.valid_x):
        from .fast import evaluate

        valid = float(evaluate(model, data.valid_x.to(device), data.valid_y.float().to(device), 2 * cfg["batch_size"],
                               nullcontext()))
        model.eval()
        log.info("validation RMSE after re-estimating BatchNorm statistics: %.4f", valid)
    seconds = time.perf_counter() - t0
    if not all(torch.isfinite(p).all() for p in model.parameters()):
        raise FloatingPointError(
            f"training {target} at {size} px diverged (non-finite weights); try a lower train.lr "
            f"(now {cfg['lr']}) or check that the images at {size} px are not all identical"
        )
    files.write_csv(history, out_history)
    meta = {
        "target": target,
        "size": size,
        "n_train": len(data.train_x),
        "n_valid": len(data.valid_x),
        "excluded": data.excluded,
        "train_seconds": seconds,
        "device": str(device),
        "cutouts": {k: cutouts[k] for k in ("size", "scale")} if cutouts else None,
        "config": cfg,
        "provenance": provenance.collect(),
    }
    save_model(model.float().to(memory_format=torch.contiguous_format), out_model, meta)
    return meta


def _train_fastai(data: TrainData, size: int, cfg: dict, device: torch.device) -> tuple[GalaxyRegressor, pd.DataFrame]:
    """The plain path: a fastai Learner over device-resident tensor batches."""
    y_mean, y_std = float(data.train_y.mean()), float(data.train_y.std())
    model = GalaxyRegressor(y_mean, y_std)
    load_imagenet_body(model, cfg.get("pretrained"))
    max_shift = int(round(cfg["max_shift"] * size))
    dls = DataLoaders(
        TensorBatches(data.train_x, data.train_y, cfg["batch_size"], True, cfg["seed"], max_shift, device),
        TensorBatches(data.valid_x, data.valid_y, 2 * cfg["batch_size"], False, device=device),
        device=device,
    )
    learn = Learner(dls, model, loss_func=rmse_loss, opt_func=Adam, wd=cfg["weight_decay"],
                    splitter=lambda m: [list(m.body.parameters()), list(m.head.parameters())])
    if device.type == "cuda":
        learn = learn.to_bf16().to_channelslast()
    log.info("fastai: %d train / %d valid galaxies at %d px on %s, y mean %.4f std %.4f",
             len(data.train_x), len(data.valid_x), size, device, y_mean, y_std)
    if cfg.get("pretrained"):
        learn.fine_tune(cfg["epochs"], base_lr=cfg["lr"], freeze_epochs=cfg["freeze_epochs"])
    else:
        learn.fit_one_cycle(cfg["epochs"], lr_max=cfg["lr"])
    history = pd.DataFrame([v[:2] for v in learn.recorder.values], columns=["train_rmse", "valid_rmse"])
    history.insert(0, "epoch", np.arange(len(history)))
    return learn.model, history
