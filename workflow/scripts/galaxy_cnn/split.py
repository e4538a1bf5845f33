"""Seeded train/valid/test split over unique objIDs; the same split serves every target and size."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("train", "valid", "test")


def split_ids(obj_ids: np.ndarray, fractions: list[float], seed: int) -> pd.DataFrame:
    """Assign each unique objID to train/valid/test with the given fractions.

    The IDs are sorted before the seeded shuffle, so the split depends only on the set of IDs
    and the seed, not on row order.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1):
        raise ValueError(f"split.fractions must be 3 non-negative numbers summing to 1, got {fractions}")
    ids = np.unique(np.asarray(obj_ids, dtype=np.int64))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    n_train = int(round(fractions[0] * len(ids)))
    n_valid = int(round(fractions[1] * len(ids)))
    labels = np.empty(len(ids), dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_valid]] = "valid"
    labels[order[n_train + n_valid :]] = "test"
    return pd.DataFrame({"objID": ids, "split": labels})


def make_split(index_csv: str, fractions: list[float], seed: int) -> tuple[pd.DataFrame, dict]:
    """Split the galaxies that have a packed image; report duplicates removed."""
    index = pd.read_csv(index_csv, dtype={"objID": "int64"})
    n_dup = int(index["objID"].duplicated().sum())
    split = split_ids(index["objID"].to_numpy(), fractions, seed)
    counts = split["split"].value_counts().reindex(SPLITS, fill_value=0).to_dict()
    return split, {"galaxies": len(split), "duplicates_removed": n_dup} | counts
