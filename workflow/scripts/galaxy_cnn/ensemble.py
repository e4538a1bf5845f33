"""One model per (target, size) from its seeds' members, with its uncertainty calibrated.

The members (one per `train.seeds` entry) are joined into one model file, and the factor that
turns their combined sigma (predicted sigma, spread over views, spread over members) into a
calibrated 1-sigma error is fitted on the validation split with the same test-time augmentation
the predictions use. Without a validation split the factor stays 1, and the metadata says so.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from . import files, provenance
from .dataset import SplitData, load_split
from .device import resolve_device
from .model import Ensemble, load_model, save_model
from .predict import calibrate_sigma, predict_tta

log = logging.getLogger(__name__)


def make_ensemble(
    *,
    members: list[str],
    images: str,
    index: str,
    catalog: str,
    split: str,
    out_model: str,
    out_meta: str,
    device: str = "auto",
    batch_size: int = 256,
    views: int = 8,
    threads: int = 1,
) -> dict:
    """Join the member model files of one (target, size) into one model, its sigma calibrated on
    the validation split. The keywords are the ensemble rule's inputs, outputs and params."""
    torch.set_num_threads(max(1, threads))
    dev = resolve_device(device)
    loaded = [load_model(p, dev) for p in members]
    metas = [meta for _, meta in loaded]
    first = metas[0]
    if any((m["target"], m["size"]) != (first["target"], first["size"]) for m in metas):
        raise ValueError(f"members {members} are not all {first['target']} at {first['size']} px")
    ensemble = Ensemble([m for model, _ in loaded for m in model.members])
    valid = load_split(
        images, index, catalog, split, target=first["target"], which="valid", size=first["size"]
    )
    scale, calibration = _calibrate(ensemble, valid, views, batch_size, dev)
    log.info("calibration on the validation split: %s", calibration)
    meta = {
        "target": first["target"],
        "size": first["size"],
        "cutouts": first["cutouts"],
        "seeds": [m["train"]["seed"] for m in metas],
        "train": first["train"] | {"seed": None},
        "members": metas,
        "calibration": calibration,
        "provenance": provenance.collect(),
    }
    save_model(list(ensemble.members), out_model, meta, sigma_scale=scale)
    files.write_json(meta, out_meta)
    return meta


def _calibrate(
    ensemble: Ensemble, valid: SplitData, views: int, batch_size: int, device: torch.device
) -> tuple[float, dict]:
    """The sigma scale and what the metadata says of it; 1 where it cannot be fitted (fewer than
    10 validation galaxies) or came out unusable (a model with it would be refused when loaded)."""
    y = valid.targets
    calibration: dict = {"split": "valid", "n": len(y), "tta_views": views}
    if len(y) >= 10:
        pred = predict_tta(ensemble, valid.images, batch_size, views, device)
        scale = calibrate_sigma(y, pred.mean, pred.std)
        z = np.abs(y - pred.mean) / (pred.std * scale)
        calibration |= {
            "sigma_scale": scale,
            "valid_rmse": float(np.sqrt(np.mean((y - pred.mean) ** 2))),
            "valid_coverage_2sigma": float(np.mean(z < 2)),
            "median_raw_sigma": float(np.median(pred.std)),
        }
    else:
        scale = 1.0
        calibration |= {
            "sigma_scale": 1.0,
            "note": "fewer than 10 validation galaxies: sigma not calibrated",
        }
    if not (np.isfinite(scale) and scale > 0):
        calibration |= {
            "sigma_scale": 1.0,
            "note": f"calibration gave {scale}: sigma not calibrated",
        }
        scale = 1.0
    return scale, calibration
