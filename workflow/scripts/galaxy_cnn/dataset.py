"""One split's galaxies as the training, ensembling and prediction stages read them.

The packed cutouts, their index, the catalog and the split, narrowed to the galaxies of one split
with a finite target and area-averaged to the model's image size. No fastai: the prediction
stages import it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalog import read_catalog
from .images import downsample, load_packed


@dataclass
class SplitData:
    """One split's galaxies with a finite target, in the packed images' row order."""

    images: np.ndarray  # (N, size, size, 3) uint8
    objids: np.ndarray  # (N,) int64
    targets: np.ndarray  # (N,) float64
    n_missing: int  # galaxies of the split left out: no finite target


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


def load_split(
    images: str,
    index: str,
    catalog: str,
    split: str,
    *,
    target: str,
    which: str,
    size: int,
) -> SplitData:
    """Read the files the stages take as inputs (packed images .npy, index, catalog and split
    CSVs) and return the `which` split's galaxies with a finite `target` at `size` px."""
    packed, packed_index = load_packed(images, index)
    split_table = pd.read_csv(split, dtype={"objID": "int64"})
    rows, objids, targets, n_missing = select_split(
        packed_index, read_catalog(catalog), split_table, target, which
    )
    return SplitData(downsample(packed[rows], size), objids, targets, n_missing)
