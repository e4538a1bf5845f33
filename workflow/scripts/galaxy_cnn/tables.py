"""The paper-comparison table: every headline number, ours next to the published one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import files, paper
from .metrics import bootstrap_scatter_ratio, mzr_scatter_ratio, nmad, rmse
from .relations import in_tremonti_range, tremonti_mzr


def headline_numbers(
    z_pred_csv: str, catalog_csv: str, mass_pred_csv: str | None = None, n_boot: int = 200
) -> dict[str, tuple[float, float, int]]:
    """(rmse, nmad, n) per MZR-based headline number; (ratio, error, n) for the scatter ratio."""
    cat = pd.read_csv(catalog_csv, dtype={"objID": "int64"})
    out = {}
    z = pd.read_csv(z_pred_csv)
    if "lgm_tot_p50" in cat.columns:
        zm = z.merge(cat[["objID", "lgm_tot_p50"]], on="objID")
        zm = zm[np.isfinite(zm["lgm_tot_p50"])]
        inside = zm[in_tremonti_range(zm["lgm_tot_p50"])]
        res = inside["pred"] - tremonti_mzr(inside["lgm_tot_p50"].to_numpy())
        out["z_about_mzr"] = (rmse(res), nmad(res), len(res))
        ratio, _, _ = mzr_scatter_ratio(zm["lgm_tot_p50"], zm["true"], zm["pred"])
        out["scatter_ratio"] = (
            ratio,
            bootstrap_scatter_ratio(zm["lgm_tot_p50"], zm["true"], zm["pred"], n_boot=n_boot),
            len(zm),
        )
    if mass_pred_csv:
        m = pd.read_csv(mass_pred_csv)
        out["mass_cnn"] = (rmse(m["pred"] - m["true"]), nmad(m["pred"] - m["true"]), len(m))
        mz = m.merge(z[["objID", "true"]].rename(columns={"true": "z_true"}), on="objID")
        mz = mz[in_tremonti_range(mz["pred"])]
        res = tremonti_mzr(mz["pred"].to_numpy()) - mz["z_true"].to_numpy()
        out["z_from_mass"] = (rmse(res), nmad(res), len(res))
    return out


def paper_comparison(
    metrics_csv: str,
    *,
    baselines_csv: str,
    z_pred_csv: str,
    catalog_csv: str,
    target: str,
    out_csv: str,
    out_md: str,
    mass_pred_csv: str | None = None,
    cv_csv: str | None = None,
) -> pd.DataFrame:
    """Long table (quantity, size, metric, ours, its 68% interval, published, difference, n) as
    CSV and Markdown; the interval is the bootstrap over test galaxies (for CV, the spread over
    folds)."""
    m = pd.read_csv(metrics_csv)
    m = m[m["target"] == target]
    size = int(m["size"].max()) if len(m) else None
    rows = _cnn_rows(m) + _baseline_rows(m, pd.read_csv(baselines_csv))
    if cv_csv:
        rows += _cv_rows(pd.read_csv(cv_csv), size)
    headline = headline_numbers(z_pred_csv, catalog_csv, mass_pred_csv)
    rows += _headline_rows(headline, size, mass_pred_csv)
    table = pd.DataFrame(rows)
    table["size"] = table["size"].astype("Int64")
    table["n"] = table["n"].astype("Int64")
    files.write_csv(table, out_csv, float_format="%.4f")
    with files.atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(table))
    return table


def _row(quantity, size, metric, ours, published, n, *, interval=(np.nan, np.nan)) -> dict:
    """One line of the comparison; `published` None where the paper gives no number."""
    diff = ours - published if published is not None and np.isfinite(ours) else np.nan
    return {
        "quantity": quantity,
        "size": size,
        "metric": metric,
        "ours": ours,
        "ours_lo": interval[0],
        "ours_hi": interval[1],
        "published": np.nan if published is None else published,
        "difference": diff,
        "n": n,
    }


def _cnn_rows(m: pd.DataFrame) -> list[dict]:
    """The CNN's RMSE and NMAD at each image size, largest first, with bootstrap intervals."""
    pub = paper.SIZES.set_index("size")
    rows = []
    for _, r in m.sort_values("size", ascending=False).iterrows():
        s = int(r["size"])
        p = pub.loc[s] if s in pub.index else None
        for metric in ("rmse", "nmad"):
            rows.append(
                _row(
                    "CNN Z_pred - Z_true",
                    s,
                    metric.upper(),
                    r[metric],
                    None if p is None else p[metric],
                    int(r["n"]),
                    interval=(r[f"{metric}_lo"], r[f"{metric}_hi"]),
                )
            )
    return rows


def _baseline_rows(m: pd.DataFrame, baselines: pd.DataFrame) -> list[dict]:
    """The paper's baseline (in the metrics table), then the photometric baseline models."""
    rows = []
    if len(m):
        b = m.iloc[0]
        desc, prmse, pnmad = paper.HEADLINE["baseline"]
        rows.append(_row(desc, None, "RMSE", b["baseline_rmse"], prmse, int(b["n"])))
        rows.append(_row(desc, None, "NMAD", b["baseline_nmad"], pnmad, int(b["n"])))
    for _, r in baselines.iterrows():
        desc, prmse, pnmad = paper.HEADLINE[r["model"]]
        rows.append(_row(desc, None, "RMSE", r["rmse"], prmse, int(r["n_test"])))
        rows.append(_row(desc, None, "NMAD", r["nmad"], pnmad, int(r["n_test"])))
    return rows


def _cv_rows(folds: pd.DataFrame, size: int | None) -> list[dict]:
    """Cross-validation: the mean RMSE over folds (their spread as its interval), and the spread."""
    mean, std = float(folds["rmse"].mean()), float(folds["rmse"].std(ddof=1))
    k, n = len(folds), int(folds["n"].sum())
    return [
        _row(
            f"{k}-fold cross-validation, mean over folds",
            size,
            "RMSE",
            mean,
            paper.CV_RMSE[0],
            n,
            interval=(mean - std, mean + std),
        ),
        _row(
            f"{k}-fold cross-validation, std over folds", size, "RMSE std", std, paper.CV_RMSE[1], n
        ),
    ]


def _headline_rows(headline: dict, size: int | None, mass_pred_csv: str | None) -> list[dict]:
    """The MZR-based headline numbers; the mass model's rows at that model's own size."""
    rows = []
    for key, values in headline.items():
        if key == "scatter_ratio":
            ratio, error = paper.SCATTER_RATIO
            desc = "MZR scatter ratio NMAD(CNN)/NMAD(SDSS)"
            rows.append(_row(desc, size, "ratio", values[0], ratio, values[2]))
            desc = "MZR scatter ratio, bootstrap error"
            rows.append(_row(desc, size, "error", values[1], error, values[2]))
            continue
        desc, prmse, pnmad = paper.HEADLINE[key]
        at = model_size(mass_pred_csv) if key in ("mass_cnn", "z_from_mass") else size
        rows.append(_row(desc, at, "RMSE", values[0], prmse, values[2]))
        rows.append(_row(desc, at, "NMAD", values[1], pnmad, values[2]))
    return rows


def model_size(pred_csv: str) -> int:
    """The image size of the model that made a predictions file (its JSON sidecar says)."""
    from pathlib import Path

    return int(files.read_json(Path(pred_csv).with_suffix(".json"))["size"])


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (floats to 4 decimals, missing values blank)."""

    def cell(v) -> str:
        if pd.isna(v):
            return ""
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _versions(prov: dict) -> str:
    versions = prov.get("versions", {})
    return ", ".join(f"{k} {v}" for k, v in versions.items() if v)


def _settings(d: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


def stale_outputs(folders: list[str], current: list[str]) -> list[str]:
    """Files in the output `folders` that this configuration does not make: left by a run with
    another one. `current` holds this config's outputs, or their stems (a model's `.pt`, `.json` and
    seed folder share `results/models/{target}-{size}px`)."""
    import os

    stems = {os.path.normpath(c) for c in current}

    def is_current(path: str) -> bool:
        while path not in ("", "."):
            if path in stems or path.split(".", 1)[0] in stems:
                return True
            path = os.path.dirname(path)
        return False

    stale = []
    for folder in folders:
        for root, _, names in os.walk(folder):
            stale += [
                os.path.join(root, n)
                for n in names
                if not n.startswith(".") and not is_current(os.path.normpath(os.path.join(root, n)))
            ]
    return sorted(stale)


def run_summary(
    catalog_json: str,
    *,
    manifest_json: str,
    pack_json: str,
    split_json: str,
    model_jsons: list[str],
    prediction_jsons: list[str],
    metrics_csv: str,
    out_csv: str,
    stale: list[str] = (),
) -> pd.DataFrame:
    """What every output was made with and how many galaxies each stage kept, from the outputs'
    own metadata (never from the current config), with each stage's code revision and versions;
    and every file in results/ that an earlier configuration left (`stale`), flagged as such."""
    cat, cut, pack, split = (
        files.read_json(p) for p in (catalog_json, manifest_json, pack_json, split_json)
    )
    models = [files.read_json(p) for p in model_jsons]
    preds = [files.read_json(p) for p in prediction_jsons]
    rows = _funnel_rows(cat, cut, pack, split) + _model_rows(models, preds)
    stages = [("catalog", cat), ("cutouts", cut), ("pack", pack), ("split", split)]
    rows += _provenance_rows(stages, models, preds)
    rows += [
        (
            "stale",
            path,
            "not made by this configuration",
            "left by a run with another config; not a result of this one "
            "(delete it, or keep it knowingly)",
        )
        for path in stale
    ]
    table = pd.DataFrame(rows, columns=["stage", "item", "value", "note"])
    files.write_csv(table, out_csv)
    return table


def _funnel_rows(cat: dict, cut: dict, pack: dict, split: dict) -> list[tuple]:
    """Where the galaxies came from and how many each stage kept."""
    status = cut["by_status"]
    reasons = (
        "; ".join(f"{n} {r}" for r, n in cat.get("rejected_by_reason", {}).items())
        or "none rejected"
    )
    excluded = pack.get("excluded_so_far", cut.get("excluded_so_far", 0))
    return [
        ("source", "data source", cat["source"], _settings(cat.get("settings", {}))),
        (
            "source",
            "data release / URL",
            cat.get("data_release", cat.get("url", cat["source"])),
            "",
        ),
        (
            "cutouts",
            "image size and scale",
            f"{cut['image']['size']} px, {cut['image']['scale']} arcsec/px",
            " ".join(
                str(cut["image"][k])
                for k in ("service", "layer", "bands", "format")
                if k in cut["image"]
            ),
        ),
        ("funnel", "catalog rows read", cat["rows_in"], ""),
        (
            "funnel",
            "duplicate objIDs merged",
            cat.get("duplicate_objID_dropped", 0),
            "first row kept",
        ),
        ("funnel", "kept in the catalog", cat["rows_out"], reasons),
        (
            "funnel",
            "with a cutout",
            int(status.get("ok", 0)),
            ", ".join(f"{n} {s}" for s, n in status.items() if s != "ok") or "none missing",
        ),
        (
            "funnel",
            "packed",
            pack["packed"],
            f"{pack['undecodable']} undecodable; {pack['size']} px",
        ),
        (
            "funnel",
            "excluded before the split",
            excluded,
            f"listed with reasons in results/excluded.csv; limit cutouts.max_missing_fraction="
            f"{cut.get('max_missing_fraction')}",
        ),
        (
            "funnel",
            "train / valid / test",
            f"{split['train']} / {split['valid']} / {split['test']}",
            f"fractions {split['fractions']}, seed {split['seed']}",
        ),
    ]


def _model_rows(models: list[dict], preds: list[dict]) -> list[tuple]:
    """Each model's training runs and ensemble, then each test-set prediction."""
    rows = []
    for m in models:
        for member in m["members"]:
            t = member["train"]
            rows.append(
                (
                    "train",
                    f"{m['target']} at {m['size']} px, seed {t['seed']}",
                    f"{member['n_train']} train / {member['n_valid']} valid",
                    f"{t['engine']} on {member['device']}, loss {t['loss']}, {t['epochs']} epochs, "
                    f"batch {t['batch_size']}, lr {t['lr']}, {member['train_seconds']:.0f} s",
                )
            )
        cal = m["calibration"]
        rows.append(
            (
                "ensemble",
                f"{m['target']} at {m['size']} px",
                f"{len(m['members'])} seed(s)",
                f"sigma scale {cal['sigma_scale']:.3f} from {cal['n']} validation galaxies"
                + (f" ({cal['note']})" if "note" in cal else ""),
            )
        )
    for p in preds:
        rows.append(
            (
                "predict",
                f"{p['target']} at {p['size']} px",
                f"{p['n']} test galaxies",
                f"{p['tta_views']} TTA views; {p['excluded_missing_target']} without a target",
            )
        )
    return rows


def _provenance_rows(
    stages: list[tuple[str, dict]], models: list[dict], preds: list[dict]
) -> list[tuple]:
    """Each stage's code revision, time, machine and package versions."""
    stages = list(stages)
    for m in models:
        stages += [
            (f"train {m['target']}-{m['size']}px seed {x['train']['seed']}", x)
            for x in m["members"]
        ]
        stages.append((f"ensemble {m['target']}-{m['size']}px", m))
    stages += [(f"predict {p['target']}-{p['size']}px", p) for p in preds]
    rows = []
    for stage, meta in stages:
        prov = meta.get("provenance", {})
        rows.append(
            (
                "provenance",
                stage,
                prov.get("git", ""),
                f"{prov.get('time_utc', '')}; {prov.get('gpu', prov.get('platform', ''))}; "
                f"{_versions(prov)}",
            )
        )
    return rows
