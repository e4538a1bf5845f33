"""The paper-comparison table: every headline number, ours next to the published one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import files, paper
from .metrics import bootstrap_scatter_ratio, mzr_scatter_ratio, nmad, rmse
from .relations import in_tremonti_range, tremonti_mzr


def headline_numbers(z_pred_csv: str, catalog_csv: str, mass_pred_csv: str | None = None,
                     n_boot: int = 200) -> dict[str, tuple[float, float, int]]:
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
        out["scatter_ratio"] = (ratio, bootstrap_scatter_ratio(zm["lgm_tot_p50"], zm["true"], zm["pred"],
                                                               n_boot=n_boot), len(zm))
    if mass_pred_csv:
        m = pd.read_csv(mass_pred_csv)
        out["mass_cnn"] = (rmse(m["pred"] - m["true"]), nmad(m["pred"] - m["true"]), len(m))
        mz = m.merge(z[["objID", "true"]].rename(columns={"true": "z_true"}), on="objID")
        mz = mz[in_tremonti_range(mz["pred"])]
        res = tremonti_mzr(mz["pred"].to_numpy()) - mz["z_true"].to_numpy()
        out["z_from_mass"] = (rmse(res), nmad(res), len(res))
    return out


def paper_comparison(metrics_csv: str, baselines_csv: str, z_pred_csv: str, catalog_csv: str, target: str,
                     out_csv: str, out_md: str, mass_pred_csv: str | None = None) -> pd.DataFrame:
    """Long table (quantity, size, metric, ours, published, difference, n) as CSV and Markdown."""
    m = pd.read_csv(metrics_csv)
    m = m[m["target"] == target]
    rows = []

    def add(quantity, size, metric, ours, published, n):
        diff = ours - published if published is not None and np.isfinite(ours) else np.nan
        rows.append({"quantity": quantity, "size": size, "metric": metric, "ours": ours,
                     "published": np.nan if published is None else published, "difference": diff, "n": n})

    pub = paper.SIZES.set_index("size")
    for _, r in m.sort_values("size", ascending=False).iterrows():
        s = int(r["size"])
        p = pub.loc[s] if s in pub.index else None
        add("CNN Z_pred - Z_true", s, "RMSE", r["rmse"], None if p is None else p["rmse"], int(r["n"]))
        add("CNN Z_pred - Z_true", s, "NMAD", r["nmad"], None if p is None else p["nmad"], int(r["n"]))
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
    for key, values in headline_numbers(z_pred_csv, catalog_csv, mass_pred_csv).items():
        if key == "scatter_ratio":
            add("MZR scatter ratio NMAD(CNN)/NMAD(SDSS)", size, "ratio", values[0], paper.SCATTER_RATIO[0],
                values[2])
            add("MZR scatter ratio, bootstrap error", size, "error", values[1], paper.SCATTER_RATIO[1], values[2])
            continue
        desc, prmse, pnmad = paper.HEADLINE[key]
        add(desc, size, "RMSE", values[0], prmse, values[2])
        add(desc, size, "NMAD", values[1], pnmad, values[2])
    table = pd.DataFrame(rows)
    table["size"] = table["size"].astype("Int64")
    table["n"] = table["n"].astype("Int64")
    files.write_csv(table, out_csv, float_format="%.4f")
    with files.atomic_path(out_md) as tmp:
        tmp.write_text(to_markdown(table))
    return table


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (floats to 4 decimals, missing values blank)."""
    def cell(v) -> str:
        if pd.isna(v):
            return ""
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def run_summary(catalog_json: str, manifest_csv: str, pack_json: str, split_json: str, metrics_csv: str,
                config: dict, out_csv: str) -> pd.DataFrame:
    """Counts kept and excluded at every stage, the data source and release, code and versions."""
    import json

    cat = json.loads(Path(catalog_json).read_text())
    manifest = pd.read_csv(manifest_csv)
    pack = json.loads(Path(pack_json).read_text())
    split = json.loads(Path(split_json).read_text())
    status = manifest["status"].value_counts()
    prov = cat.get("provenance", {})
    rows = [
        ("source", "data source", config["source"], ""),
        ("source", "data release / URL", cat.get("data_release", cat.get("url", "synthetic")), ""),
        ("catalog", "galaxies kept", cat.get("kept", cat.get("rows_out")), ""),
        ("catalog", "rejected: bad objID", cat.get("rejected_bad_objID", 0), "never used in a URL or path"),
        ("catalog", "rejected: bad ra/dec", cat.get("rejected_bad_coordinates", 0), ""),
        ("catalog", "duplicate objIDs dropped", cat.get("duplicate_objID_dropped", 0), "first specObjID kept"),
        ("cutouts", "ok", int(status.get("ok", 0)), ""),
        ("cutouts", "outside footprint (HTTP 404)", int(status.get("outside_footprint", 0)), ""),
        ("cutouts", "failed after retries", int(status.get("failed", 0)), ""),
        ("pack", "packed", pack["packed"], ""),
        ("pack", "undecodable", pack["undecodable"], "listed in results/packed/report.json"),
        ("split", "train / valid / test", f"{split['train']} / {split['valid']} / {split['test']}",
         f"seed {config['split']['seed']}"),
        ("split", "duplicate objIDs removed", split.get("duplicates_removed", 0), ""),
    ]
    for _, r in pd.read_csv(metrics_csv).iterrows():
        rows.append(("predict", f"test galaxies, {r['target']} at {int(r['size'])} px", int(r["n"]), ""))
    rows += [("provenance", "code revision", prov.get("git", ""), f"galaxy_cnn {prov.get('galaxy_cnn', '')}"),
             ("provenance", "run time (UTC)", prov.get("time_utc", ""), prov.get("platform", ""))]
    rows += [("provenance", f"version: {k}", v, "") for k, v in prov.get("versions", {}).items()]
    rows += [("config", f"train.{k}", v, "") for k, v in config["train"].items()]
    table = pd.DataFrame(rows, columns=["stage", "item", "value", "note"])
    files.write_csv(table, out_csv)
    return table
