"""Two runs of the same galaxies compared: which images carry more metallicity information, and what
a model trained on the other run's images makes of this run's (the cost of a domain shift).

Every statistic is paired: the test galaxies are resampled together for both runs, so the ratio's
interval leaves out the galaxy-to-galaxy scatter that both share. The intervals are those of the
test sample only: a run's training (its seeds) varies too, and is not resampled here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import files, provenance
from .checks import model_grid_problems
from .errors import InputError
from .metrics import nmad_of_rows

LEVEL = 0.6827  # the intervals' coverage: 68%, as the metrics' error bars
CHUNK = 100  # resamples drawn at once: 3 x CHUNK x N residuals in memory


def _predictions(path: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    if missing := {"objID", "true", "pred"} - set(df.columns):
        raise InputError(
            f"{path} has no {', '.join(sorted(missing))} column: not a predictions file"
        )
    return df[["objID", "true", "pred"]].astype({"objID": "int64"})


def paired_residuals(this_csv: str, other_csv: str, other_model_csv: str) -> pd.DataFrame:
    """pred - true of the same test galaxies in this run, the other run, and the other run's model
    on this run's images; stops naming the files if they are not the same galaxies and truths."""
    this, other, shifted = (_predictions(p) for p in (this_csv, other_csv, other_model_csv))
    for name, df in (("the other run", other), ("the other run's model", shifted)):
        if set(df.objID) != set(this.objID):
            raise InputError(
                f"{this_csv} and {name}'s predictions are not of the same test galaxies "
                f"({len(set(this.objID) ^ set(df.objID))} objIDs in one only): compare runs of "
                "the same catalog and split"
            )
    both = this.merge(other, on="objID", suffixes=("", "_other")).merge(
        shifted, on="objID", suffixes=("", "_shift")
    )
    if not np.allclose(both.true, both.true_other, atol=1e-5):
        raise InputError(
            f"{this_csv} and {other_csv} give the same galaxies different true values: the runs "
            "are not of the same catalog"
        )
    residuals = pd.DataFrame(
        {
            "objID": both.objID,
            "this": both.pred - both.true,
            "other": both.pred_other - both.true,
            "other_model": both.pred_shift - both.true,
        }
    )
    # a galaxy without a finite residual in every run leaves all three (the NMADs stay paired)
    return residuals[np.isfinite(residuals.drop(columns="objID")).all(axis=1)]


def _point_and_interval(values: np.ndarray, point: float) -> list[float]:
    lo, hi = np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return [float(point), float(lo), float(hi)]


def compare_size(residuals: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """NMAD of both runs, their ratio (this / other), and the other model's bias and NMAD on this
    run's images, each with its paired-bootstrap 68% interval."""
    r = residuals[["this", "other", "other_model"]].to_numpy().T
    rng = np.random.default_rng(seed)
    nmad_boot, bias_boot = [], []
    for start in range(0, n_boot, CHUNK):
        boot = r[:, rng.integers(0, r.shape[1], (min(CHUNK, n_boot - start), r.shape[1]))]
        nmad_boot.append(nmad_of_rows(boot))
        bias_boot.append(np.mean(boot[2], axis=-1))
    nmad_boot = np.concatenate(nmad_boot, axis=1)  # (3, n_boot)
    nmad_all = nmad_of_rows(r)
    stats = {
        "nmad": (nmad_boot[0], nmad_all[0]),
        "other_nmad": (nmad_boot[1], nmad_all[1]),
        "nmad_ratio": (nmad_boot[0] / nmad_boot[1], nmad_all[0] / nmad_all[1]),
        "other_model_bias": (np.concatenate(bias_boot), np.mean(r[2])),
        "other_model_nmad": (nmad_boot[2], nmad_all[2]),
    }
    row: dict = {"n": r.shape[1]}
    for name, (values, point) in stats.items():
        row[name], row[f"{name}_lo"], row[f"{name}_hi"] = _point_and_interval(values, point)
    return row


def compare_runs(
    *,
    this: list[str],
    other: list[str],
    other_model: list[str],
    sizes: list[int],
    labels: tuple[str, str],
    other_run: str,
    images: dict,
    other_model_record: str,
    out_csv: str,
    out_md: str,
    out_meta: str,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per size (the lists are in the order of `sizes`); the table as CSV and Markdown.
    `images` is this run's image record; the other run's is in its model file's record
    (`other_model_record`): their size and scale must agree. The keywords are the compare_runs
    rule's inputs, outputs and params."""
    if problems := model_grid_problems(images, other_model_record):
        raise InputError(problems[0])
    other_images = files.read_json(other_model_record)["cutouts"]
    rows = [
        {"size": size} | compare_size(paired_residuals(a, b, c), n_boot=n_boot, seed=seed)
        for size, a, b, c in zip(sizes, this, other, other_model, strict=True)
    ]
    table = pd.DataFrame(rows)
    files.write_csv(table, out_csv, float_format="%.5f")
    with files.atomic_path(out_md) as tmp:
        tmp.write_text(markdown(table, labels))
    meta = {
        "labels": {"this": labels[0], "other": labels[1]},
        "other_run": other_run,
        "images": {"this": images, "other": other_images},
        "sizes": sizes,
        "n_boot": n_boot,
        "seed": seed,
        "interval": LEVEL,
        "provenance": provenance.collect(),
    }
    files.write_json(meta, out_meta)
    return table


def markdown(table: pd.DataFrame, labels: tuple[str, str]) -> str:
    """The table in words: each value with its 68% interval."""
    this, other = labels

    def cell(row, name: str, digits: int = 3) -> str:
        return (
            f"{row[name]:.{digits}f} [{row[name + '_lo']:.{digits}f}, "
            f"{row[name + '_hi']:.{digits}f}]"
        )

    head = (
        f"| size (px) | N | NMAD, {this} | NMAD, {other} | ratio {this} / {other} | "
        f"{other} model on {this} images: bias | its NMAD |\n"
        "|---:|---:|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {int(r['size'])} | {int(r['n'])} | {cell(r, 'nmad')} | {cell(r, 'other_nmad')} | "
        f"{cell(r, 'nmad_ratio')} | {cell(r, 'other_model_bias')} | "
        f"{cell(r, 'other_model_nmad')} |\n"
        for _, r in table.iterrows()
    )
    note = (
        "\nNMAD and bias in dex of pred - true on the same test galaxies, with paired-bootstrap "
        "68% intervals.\n"
    )
    return head + body + note
