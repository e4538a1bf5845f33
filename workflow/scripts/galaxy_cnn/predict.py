"""The predict stage: every galaxy seen in its dihedral views (test-time augmentation) by every
member of the model. No fastai: prediction needs only PyTorch.

For member k the mean over views is its prediction; its variance is the mean predicted variance
plus the variance across views. The ensemble's mean is the members' mean, its variance the mean of
their variances plus the variance across members (the law of total variance), then scaled by the
model's `sigma_scale` (calibrated on the validation split when the ensemble was made).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from . import files, provenance
from .augment import dihedral
from .dataset import load_split
from .device import mixed_precision_default, resolve_device
from .model import Ensemble, GalaxyRegressor, float_batches, load_model


@dataclass
class Predictions:
    mean: np.ndarray  # (N,) dex
    std: np.ndarray  # (N,) dex, 1 sigma, calibrated
    members: np.ndarray  # (N, K) each member's view-averaged mean


@torch.no_grad()
def predict_tta(
    model: Ensemble | GalaxyRegressor,
    images_u8: np.ndarray | torch.Tensor,
    batch_size: int = 256,
    views: int = 8,
    device: str | torch.device = "cpu",
    progress: bool = True,
    *,
    mixed_precision: bool | None = None,
) -> Predictions:
    """Predict (N, H, W, 3) uint8 images over `views` dihedral symmetries (1 = no augmentation).
    `mixed_precision` (bf16 autocast, channels-last) defaults to on for CUDA only."""
    device = torch.device(device)
    mixed = mixed_precision_default(device, mixed_precision)
    if isinstance(model, GalaxyRegressor):
        model = Ensemble([model])
    model = model.to(device).eval()
    if mixed:
        model = model.to(memory_format=torch.channels_last)
    images = torch.as_tensor(np.asarray(images_u8))
    k = len(model.members)
    mean, var, members = np.empty(len(images)), np.empty(len(images)), np.empty((len(images), k))
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed)
    done = 0
    for x in tqdm(
        float_batches(images, batch_size, device),
        total=-(-len(images) // batch_size),
        desc="predict",
        unit="batch",
        disable=not progress,
        mininterval=2,
    ):
        outs = []
        for v in range(views):
            xv = dihedral(x, v)
            if mixed:
                xv = xv.contiguous(memory_format=torch.channels_last)
            with autocast:
                outs.append(model(xv).double())
        out = torch.stack(outs)  # (views, B, K, 2), float64
        mu_view, sigma_view = out[..., 0], out[..., 1]
        mu_k = mu_view.mean(0)
        var_k = (sigma_view**2).mean(0) + mu_view.var(0, unbiased=False)
        b = slice(done, done + len(x))
        members[b] = mu_k.cpu().numpy()
        mean[b] = mu_k.mean(1).cpu().numpy()
        var[b] = (var_k.mean(1) + mu_k.var(1, unbiased=False)).cpu().numpy()
        done += len(x)
    return Predictions(mean, np.sqrt(var) * model.sigma_scale, members)


def calibrate_sigma(true: np.ndarray, mean: np.ndarray, raw_std: np.ndarray) -> float:
    """The factor that makes |residual| < sigma hold for 68.27% of galaxies (validation split).

    A quantile, not the RMS of residual/sigma: a few catastrophic outliers (the paper's Fig. 1
    galaxies) would otherwise widen every galaxy's interval.
    """
    z = np.abs(np.asarray(true) - mean) / raw_std
    return float(np.quantile(z, 0.6827))


def predict_split(
    *,
    model: str,
    images: str,
    index: str,
    catalog: str,
    split: str,
    which: str,
    out_csv: str,
    out_meta: str,
    device: str = "auto",
    batch_size: int = 256,
    views: int = 8,
    threads: int = 1,
) -> dict:
    """objID, true, pred, pred_std (and each member's pred) for the galaxies of split `which` with
    a finite target. The keywords are the predict rule's inputs, outputs and params."""
    torch.set_num_threads(max(1, threads))
    dev = resolve_device(device)
    ensemble, meta = load_model(model, dev)
    data = load_split(
        images, index, catalog, split, target=meta["target"], which=which, size=meta["size"]
    )
    pred = predict_tta(ensemble, data.images, batch_size, views, dev)
    table = pd.DataFrame(
        {"objID": data.objids, "true": data.targets, "pred": pred.mean, "pred_std": pred.std}
    )
    seeds = meta.get("seeds", [None] * pred.members.shape[1])
    if len(seeds) > 1:
        for j, seed in enumerate(seeds):
            table[f"pred_seed{seed}"] = pred.members[:, j]
    files.write_csv(table, out_csv, float_format="%.6f")
    info = {
        "model": model,
        "target": meta["target"],
        "size": meta["size"],
        "split": which,
        "n": len(data.objids),
        "excluded_missing_target": data.n_missing,
        "tta_views": views,
        "batch_size": batch_size,
        "members": pred.members.shape[1],
        "sigma_scale": ensemble.sigma_scale,
        "device": str(dev),
        "provenance": provenance.collect(),
    }
    files.write_json(info, out_meta)
    return info
