"""Applying a trained model to new galaxies: a folder of cutouts in, TTA predictions out.

    from galaxy_cnn.apply import apply_model
    apply_model("results/models/oh_p50-128px.pt", "my_cutouts/", "my_predictions.csv")

Images must cover the same field as the training cutouts (the model's `cutouts` size and scale,
recorded in its metadata); they are area-averaged to the model's image size as in training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import files, provenance
from .cutouts import LOCAL_SUFFIXES, read_local_image
from .images import ImageError, downsample
from .model import load_model
from .tta import predict_tta


def read_image_folder(folder: str | Path, size: int | None) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Every JPEG/PNG/FITS in `folder`: (names, (N, S, S, 3) uint8, {file: reason} for those excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    names, arrays, excluded = [], [], {}
    for path in sorted(folder.iterdir()):
        if not path.name.lower().endswith(LOCAL_SUFFIXES):
            continue
        try:
            arr = read_local_image(path, size)
        except ImageError as err:
            excluded[path.name] = str(err)
            continue
        if arrays and arr.shape != arrays[0].shape:
            excluded[path.name] = f"image is {arr.shape[1]}x{arr.shape[0]} px, others are {arrays[0].shape[1]} px"
            continue
        names.append(path.name.split(".")[0])
        arrays.append(arr)
    if not arrays:
        raise ValueError(f"no usable JPEG/PNG/FITS images in {folder} ({len(excluded)} excluded: {excluded})")
    return names, np.stack(arrays), excluded


def apply_model(model_path: str, images: str, out_csv: str, catalog_csv: str | None = None,
                device: str = "auto", views: int = 8, batch_size: int = 256) -> dict:
    """Write objID, pred (and true where `catalog_csv` has the target) plus a JSON with provenance."""
    from .train import resolve_device

    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    full = meta.get("cutouts", {}).get("size")
    names, array, excluded = read_image_folder(images, full)
    if array.shape[1] % meta["size"]:
        raise ValueError(f"images are {array.shape[1]} px: not an integer multiple of the model's {meta['size']} px")
    pred = predict_tta(model, downsample(array, meta["size"]), batch_size, views, dev)
    ids = pd.Series(names)
    out = pd.DataFrame({"objID": pd.to_numeric(ids) if ids.str.fullmatch(r"\d+").all() else ids, "pred": pred})
    if catalog_csv:
        cat = pd.read_csv(catalog_csv, dtype={"objID": out["objID"].dtype})
        if meta["target"] in cat.columns:
            out = out.merge(cat[["objID", meta["target"]]].rename(columns={meta["target"]: "true"}),
                            on="objID", how="left")
    files.write_csv(out, out_csv, float_format="%.6f")
    info = {"model": str(Path(model_path).resolve()), "target": meta["target"], "model_size_px": meta["size"],
            "input_size_px": int(array.shape[1]), "n_predicted": len(out), "excluded": excluded,
            "tta_views": views, "model_meta": {k: v for k, v in meta.items() if k != "config"} | {
                "train_config": meta.get("config")}, "provenance": provenance.collect()}
    files.write_json(info, str(Path(out_csv).with_suffix(".json")))
    return info
