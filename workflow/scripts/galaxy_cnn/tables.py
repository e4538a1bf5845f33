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
    """(rmse, nmad, n) for the MZR-based headline numbers; the scatter ratio as (ratio, error, n)."""
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
    baselines_csv: str,
    z_pred_csv: str,
    catalog_csv: str,
    target: str,
    out_csv: str,
    out_md: str,
    mass_pred_csv: str | None = None,
    cv_csv: str | None = None,
) -> pd.DataFrame:
    """Long table (quantity, size, metric, ours, its 68% interval, published, difference, n) as CSV
    and Markdown; the interval is the bootstrap over test galaxies (the spread over folds for CV)."""
    m = pd.read_csv(metrics_csv)
    m = m[m["target"] == target]
    rows = []

    def add(quantity, size, metric, ours, published, n, interval=(np.nan, np.nan)):
        diff = ours - published if published is not None and np.isfinite(ours) else np.nan
        rows.append(
            {
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
        )

    pub = paper.SIZES.set_index("size")
    for _, r in m.sort_values("size", ascending=False).iterrows():
        s = int(r["size"])
        p = pub.loc[s] if s in pub.index else None
        add(
            "CNN Z_pred - Z_true",
            s,
            "RMSE",
            r["rmse"],
            None if p is None else p["rmse"],
            int(r["n"]),
            (r["rmse_lo"], r["rmse_hi"]),
        )
        add(
            "CNN Z_pred - Z_true",
            s,
            "NMAD",
            r["nmad"],
            None if p is None else p["nmad"],
            int(r["n"]),
            (r["nmad_lo"], r["nmad_hi"]),
        )
    if len(m):
        b = m.iloc[0]
        desc, prmse, pnmad = paper.HEADLINE["baseline"]
        add(desc, None, "RMSE", b["baseline_rmse"], prmse, int(b["n"]))
        add(desc, None, "NMAD", b["baseline_nmad"], pnmad, int(b["n"]))
    for _, r in pd.read_csv(baselines_csv).iterrows():
        desc, prmse, pnmad = paper.HEADLINE[r["model"]]
        add(desc, None, "RMSE", r["rmse"], prmse, int(r["n_test"]))
        add(desc, None, "NMAD", r["nmad"], pnmad, int(r["n_test"]))
    size = int(m["size"].max()) if len(m) else None
    if cv_csv:
        folds = pd.read_csv(cv_csv)
        mean, std = float(folds["rmse"].mean()), float(folds["rmse"].std(ddof=1))
        add(
            f"{len(folds)}-fold cross-validation, mean over folds",
            size,
            "RMSE",
            mean,
            paper.CV_RMSE[0],
            int(folds["n"].sum()),
            (mean - std, mean + std),
        )
        add(
            f"{len(folds)}-fold cross-validation, std over folds",
            size,
            "RMSE std",
            std,
            paper.CV_RMSE[1],
            int(folds["n"].sum()),
        )
    for key, values in headline_numbers(z_pred_csv, catalog_csv, mass_pred_csv).items():
        if key == "scatter_ratio":
            add(
                "MZR scatter ratio NMAD(CNN)/NMAD(SDSS)",
                size,
                "ratio",
                values[0],
                paper.SCATTER_RATIO[0],
                values[2],
            )
            add(
                "MZR scatter ratio, bootstrap error",
                size,
                "error",
                values[1],
                paper.SCATTER_RATIO[1],
                values[2],
            )
            continue
        desc, prmse, pnmad = paper.HEADLINE[key]
        at = (
            model_size(mass_pred_csv) if key in ("mass_cnn", "z_from_mass") else size
        )  # the mass model's own
        add(desc, at, "RMSE", values[0], prmse, values[2])
        add(desc, at, "NMAD", values[1], pnmad, values[2])
    table = pd.DataFrame(rows)
    table["size"] = table["size"].astype("Int64")
    table["n"] = table["n"].astype("Int64")
    files.write_csv(table, out_csv, float_format="%.4f")
    with files.atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(table))
    return table


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
    status = cut["by_status"]
    reasons = (
        "; ".join(f"{n} {r}" for r, n in cat.get("rejected_by_reason", {}).items())
        or "none rejected"
    )
    excluded = pack.get("excluded_so_far", cut.get("excluded_so_far", 0))
    rows = [
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
            "",
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
    for m in models:
        for member in m["members"]:
            t = member["train"]
            rows.append(
                (
                    "train",
                    f"{m['target']} at {m['size']} px, seed {t['seed']}",
                    f"{member['n_train']} train / {member['n_valid']} valid",
                    f"{t['engine']} on {member['device']}, loss {t['loss']}, {t['epochs']} epochs, batch "
                    f"{t['batch_size']}, lr {t['lr']}, {member['train_seconds']:.0f} s",
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
    stages = [("catalog", cat), ("cutouts", cut), ("pack", pack), ("split", split)]
    for m in models:
        stages += [
            (f"train {m['target']}-{m['size']}px seed {x['train']['seed']}", x)
            for x in m["members"]
        ]
        stages.append((f"ensemble {m['target']}-{m['size']}px", m))
    stages += [(f"predict {p['target']}-{p['size']}px", p) for p in preds]
    for stage, meta in stages:
        prov = meta.get("provenance", {})
        rows.append(
            (
                "provenance",
                stage,
                prov.get("git", ""),
                f"{prov.get('time_utc', '')}; {prov.get('gpu', prov.get('platform', ''))}; {_versions(prov)}",
            )
        )
    rows += [
        (
            "stale",
            path,
            "not made by this configuration",
            "left by a run with another config; not a result of this one (delete it, or keep it knowingly)",
        )
        for path in stale
    ]
    table = pd.DataFrame(rows, columns=["stage", "item", "value", "note"])
    files.write_csv(table, out_csv)
    return table
