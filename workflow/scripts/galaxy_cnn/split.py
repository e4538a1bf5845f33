"""Seeded train/valid/test split over unique objIDs; the same split serves every target and size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError

SPLITS = ("train", "valid", "test")


def split_ids(obj_ids: np.ndarray, fractions: list[float], seed: int) -> pd.DataFrame:
    """Assign each unique objID to train/valid/test with the given fractions.

    The IDs are sorted before the seeded shuffle, so the split depends only on the set of IDs
    and the seed, not on row order.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not np.isclose(sum(fractions), 1):
        raise ValueError(
            f"split.fractions must be 3 non-negative numbers summing to 1, got {fractions}"
        )
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
    empty = [s for s in ("train", "test") if counts[s] == 0]
    if empty:
        raise InputError(
            f"split.fractions {list(fractions)} give no {' and no '.join(empty)} galaxies out of "
            f"{len(split)}; give those parts a larger fraction"
        )
    return split, {"galaxies": len(split), "duplicates_removed": n_dup} | counts


def write_split(
    index_csv: str, *, fractions: list[float], seed: int, out_csv: str, out_json: str
) -> dict:
    """The split and its report (counts, fractions, seed, provenance)."""
    from . import files, provenance

    table, report = make_split(index_csv, fractions, seed)
    report |= {"fractions": list(fractions), "seed": seed, "provenance": provenance.collect()}
    files.write_csv(table, out_csv)
    files.write_json(report, out_json)
    return report


def cv_folds(obj_ids: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number (0..folds-1) of each of the sorted unique `obj_ids`, balanced and seeded."""
    order = np.random.default_rng([seed, folds]).permutation(len(obj_ids))
    fold = np.empty(len(obj_ids), int)
    fold[order] = np.arange(len(obj_ids)) % folds
    return fold


def write_cv_fold(split_csv: str, folds: int, seed: int, fold: int, out_csv: str) -> pd.DataFrame:
    """Fold `fold` of train+valid held out as `valid`, the other folds as `train`; `test` kept."""
    from . import files

    split = (
        pd.read_csv(split_csv, dtype={"objID": "int64"}).sort_values("objID").reset_index(drop=True)
    )
    pool = split["split"].isin(["train", "valid"]).to_numpy()
    if pool.sum() < folds:
        raise InputError(
            f"cv.folds={folds}: only {int(pool.sum())} train+valid galaxies; "
            "lower cv.folds or use more galaxies"
        )
    assigned = cv_folds(split.loc[pool, "objID"].to_numpy(), folds, seed)
    out = split.copy()
    out.loc[pool, "split"] = np.where(assigned == fold, "valid", "train")
    files.write_csv(out, out_csv)
    return out
