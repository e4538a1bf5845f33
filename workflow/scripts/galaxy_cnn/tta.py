"""Test-time augmentation: the mean prediction over the 8 dihedral views of each galaxy."""

from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from .augment import dihedral
from .model import float_batches


@torch.no_grad()
def predict_tta(
    model: torch.nn.Module,
    images_u8: np.ndarray | torch.Tensor,
    batch_size: int = 256,
    views: int = 8,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """Predict (N, H, W, 3) uint8 images, averaging `views` dihedral symmetries (1 = no TTA)."""
    device = torch.device(device)
    model = model.to(device).eval()
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    images = torch.as_tensor(np.asarray(images_u8))
    out = np.empty(len(images), np.float64)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    n_batches = -(-len(images) // batch_size)
    done = 0
    for x in tqdm(float_batches(images, batch_size, device), total=n_batches, desc="predict", unit="batch",
                  disable=not progress, mininterval=2):
        total = torch.zeros(len(x), device=device)
        for k in range(views):
            xv = dihedral(x, k)
            if device.type == "cuda":
                xv = xv.contiguous(memory_format=torch.channels_last)
            with autocast:
                total += model(xv).float()
        out[done : done + len(x)] = (total / views).cpu().numpy()
        done += len(x)
    return out


def predict_test_split(model_path: str, packed: str, index_csv: str, catalog_csv: str, split_csv: str,
                       out_csv: str, device: str = "auto", batch_size: int = 256, views: int = 8,
                       threads: int = 1) -> dict:
    """Write objID, true, pred for the test galaxies with a finite target (TTA over `views`)."""
    import pandas as pd

    from . import files
    from .catalog import read_catalog
    from .images import downsample, load_packed
    from .model import load_model
    from .train import resolve_device, select_split

    torch.set_num_threads(max(1, threads))
    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    images, index = load_packed(packed, index_csv)
    split = pd.read_csv(split_csv, dtype={"objID": "int64"})
    rows, ids, y, n_missing = select_split(index, read_catalog(catalog_csv), split, meta["target"], "test")
    pred = predict_tta(model, downsample(images[rows], meta["size"]), batch_size, views, dev)
    files.write_csv(pd.DataFrame({"objID": ids, "true": y, "pred": pred}), out_csv, float_format="%.6f")
    return {"n": len(ids), "excluded_missing_target": n_missing}
