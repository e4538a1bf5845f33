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
from .dataset import load_split
from .device import resolve_device
from .errors import InputError
from .fast import evaluate, train_fast
from .model import (
    GalaxyRegressor,
    TrainingLoss,
    build_model,
    precise_batchnorm,
    rmse_loss,
    save_model,
)
from .settings import TrainSettings

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Images at the training size and targets for the train and valid splits."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    excluded: dict


def load_train_data(
    images: str, index: str, catalog: str, split: str, *, target: str, size: int
) -> TrainData:
    """The train and valid splits' galaxies with a finite `target`, at `size` px, as tensors."""
    parts, excluded = {}, {}
    for which in ("train", "valid"):
        data = load_split(images, index, catalog, split, target=target, which=which, size=size)
        parts[which] = (torch.from_numpy(data.images), torch.tensor(data.targets))
        excluded[f"{which}_missing_{target}"] = data.n_missing
    return TrainData(*parts["train"], *parts["valid"], excluded=excluded)


def train_model(
    *,
    images: str,
    index: str,
    catalog: str,
    split: str,
    pack_report: str,
    target: str,
    size: int,
    out_model: str,
    out_history: str,
    out_meta: str,
    settings: dict,
    threads: int = 1,
) -> dict:
    """Train one ResNet-34 (mean and sigma of `target` at `size` px) with the seed in `settings`
    (the `train` section of the config); save it (a one-member model file), its history and its
    metadata. The keywords are the train rule's inputs, wildcards, outputs and params."""
    s = TrainSettings(**settings)
    torch.set_num_threads(max(1, threads))
    set_seed(s.seed, reproducible=True)
    device = resolve_device(s.device)
    data = load_train_data(images, index, catalog, split, target=target, size=size)
    if len(data.train_x) < s.batch_size:
        raise InputError(
            f"only {len(data.train_x)} training galaxies for {target}: "
            f"fewer than train.batch_size={s.batch_size}"
        )
    t0 = time.perf_counter()
    model, history = _train_and_settle(data, size, s, device)
    seconds = time.perf_counter() - t0
    _check_finite(model, data, target, size, s)
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
        "cutouts": cutouts,  # source, service (layer, bands, format), size, scale
        "train": asdict(s),
        "provenance": provenance.collect(),
    }
    save_model([model], out_model, meta)
    files.write_json(meta, out_meta)
    return meta


def _train_and_settle(
    data: TrainData, size: int, s: TrainSettings, device: torch.device
) -> tuple[GalaxyRegressor, pd.DataFrame]:
    """Train with the chosen engine, then settle BatchNorm's statistics (and the sigma head of a
    model trained without a sigma loss) as the saved model will predict: in eval mode."""
    if s.engine == "fast":
        model, rows = train_fast(
            data.train_x,
            data.train_y,
            data.valid_x,
            data.valid_y,
            size=size,
            settings=s,
            device=device,
            log=log.info,
        )
        history = pd.DataFrame(rows)[["epoch", "train_loss", "valid_rmse", "train_seconds"]]
    else:
        model, history = _train_fastai(data, size, s, device)
    precise_batchnorm(model, data.train_x, 2 * s.batch_size)
    if s.loss == "rmse":
        model.drop_sigma_head()
    if len(data.valid_x):
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
    return model, history


def _check_finite(
    model: GalaxyRegressor, data: TrainData, target: str, size: int, s: TrainSettings
) -> None:
    """Refuse a diverged model, with what to try: a model with NaN weights predicts nothing."""
    if all(torch.isfinite(p).all() for p in model.parameters()):
        return
    y = data.train_y.double()
    raise InputError(
        f"training {target} at {size} px diverged (non-finite weights); try a lower train.lr "
        f"(now {s.lr}), check the training targets (min {float(y.min()):.4g}, max "
        f"{float(y.max()):.4g}, std {float(y.std()):.4g}) and that the images at {size} px are "
        "not all identical"
    )


def _train_fastai(
    data: TrainData, size: int, s: TrainSettings, device: torch.device
) -> tuple[GalaxyRegressor, pd.DataFrame]:
    """The plain path: a fastai Learner over device-resident tensor batches."""
    model = build_model(data.train_y, s.pretrained, device)
    max_shift = int(round(s.max_shift * size))
    dls = DataLoaders(
        DeviceBatches(
            data.train_x,
            data.train_y,
            batch_size=s.batch_size,
            shuffle=True,
            max_shift=max_shift,
            seed=s.seed,
            device=device,
        ),
        DeviceBatches(
            data.valid_x, data.valid_y, batch_size=2 * s.batch_size, shuffle=False, device=device
        ),
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
