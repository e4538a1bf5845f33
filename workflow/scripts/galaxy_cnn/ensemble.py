"""One model per (target, size) from its seeds' members, with its uncertainty calibrated.

The members (one per `train.seeds` entry) are joined into one model file, and the factor that
turns their combined sigma (predicted sigma, spread over views, spread over members) into a
calibrated 1-sigma error is fitted on the validation split with the same test-time augmentation
the predictions use. Without a validation split the factor stays 1, and the metadata says so.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from . import files, provenance
from .catalog import read_catalog
from .device import resolve_device
from .images import downsample, load_packed
from .model import Ensemble, load_model, save_model
from .train import select_split
from .tta import calibrate_sigma, predict_tta

log = logging.getLogger(__name__)


def make_ensemble(
    member_paths: list[str],
    packed: str,
    index_csv: str,
    catalog_csv: str,
    split_csv: str,
    out_model: str,
    out_meta: str,
    views: int = 8,
    batch_size: int = 256,
    device: str = "auto",
    threads: int = 1,
) -> dict:
    torch.set_num_threads(max(1, threads))
    dev = resolve_device(device)
    loaded = [load_model(p, dev) for p in member_paths]
    metas = [meta for _, meta in loaded]
    first = metas[0]
    if any((m["target"], m["size"]) != (first["target"], first["size"]) for m in metas):
        raise ValueError(
            f"members {member_paths} are not all {first['target']} at {first['size']} px"
        )
    ensemble = Ensemble([m for model, _ in loaded for m in model.members])
    images, index = load_packed(packed, index_csv)
    split = pd.read_csv(split_csv, dtype={"objID": "int64"})
    rows, _, y, _ = select_split(index, read_catalog(catalog_csv), split, first["target"], "valid")
    calibration: dict = {"split": "valid", "n": len(rows), "tta_views": views}
    if len(rows) >= 10:
        pred = predict_tta(
            ensemble, downsample(images[rows], first["size"]), batch_size, views, dev
        )
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
    if not (np.isfinite(scale) and scale > 0):  # a model with it would be refused when loaded
        calibration |= {
            "sigma_scale": 1.0,
            "note": f"calibration gave {scale}: sigma not calibrated",
        }
        scale = 1.0
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
