"""The paper's figures, each from files on disk so that it can be rebuilt alone in seconds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.gridspec import GridSpec

from . import style
from .metrics import binned_scatter, nmad, rmse
from .relations import TREMONTI_RANGE, tremonti_mzr

style.apply()


def pred_vs_true(pred_csv: str, out: list[str], label: str = "Z", size: int | None = None) -> None:
    """Fig. 3: 2-D histogram of Z_pred vs Z_true, running median, binned RMSE/NMAD above."""
    df = pd.read_csv(pred_csv)
    true, pred = df["true"].to_numpy(), df["pred"].to_numpy()
    lo, hi = np.percentile(np.r_[true, pred], [0.5, 99.5])
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    edges = np.linspace(lo, hi, 21)
    bins = binned_scatter(true, pred, edges, min_count=min(5, max(1, len(df) // 20)))
    fig = plt.figure(figsize=(5.5, 7))
    gs = GridSpec(2, 1, height_ratios=[1, 3], hspace=0.05, figure=fig)
    top, ax = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    res = pred - true
    for key, name in (("rmse", "RMSE"), ("nmad", "NMAD")):
        total = rmse(res) if key == "rmse" else nmad(res)
        top.scatter(bins["center"], bins[key], s=200 * bins["n"] / max(bins["n"].max(), 1), color=style.COLORS[key],
                    alpha=0.8, label=f"{name} (all: {total:.4f})")
        top.axhline(total, color=style.COLORS[key], ls="--", lw=1)
    top.set_ylabel("scatter [dex]")
    top.set_xlim(lo, hi)
    top.set_ylim(0, None)
    top.tick_params(labelbottom=False)
    top.legend(loc="upper right", frameon=False)
    h = ax.hist2d(true, pred, bins=[edges, edges], cmap=style.CMAP, cmin=1)
    fig.colorbar(h[3], ax=ax, orientation="horizontal", pad=0.12, fraction=0.05, label="galaxies per bin")
    ax.plot([lo, hi], [lo, hi], color=style.COLORS["line"], lw=1, ls="--", label="one-to-one")
    ax.plot(bins["center"], bins["median_pred"], color=style.COLORS["nmad"], lw=2, marker="o", ms=3,
            label="running median")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"{label}$_{{\\rm true}}$ [dex]")
    ax.set_ylabel(f"{label}$_{{\\rm pred}}$ [dex]")
    title = f"N = {len(df)}" + (f", {size} px" if size else "")
    ax.legend(loc="upper left", frameon=False, title=title)
    style.save(fig, out)


def metrics_vs_size(metrics_csv: str, target: str, out: list[str], published: pd.DataFrame | None = None,
                    rf: pd.DataFrame | None = None) -> None:
    """Fig. 4: RMSE and NMAD against image size, with the predict-the-mean baseline as arrows."""
    m = pd.read_csv(metrics_csv)
    m = m[m["target"] == target].sort_values("size")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for key, name in (("rmse", "RMSE"), ("nmad", "NMAD")):
        c = style.COLORS[key]
        ax.plot(m["size"], m[key], marker="o", color=c, label=f"CNN {name}")
        base = m[f"baseline_{key}"].iloc[0]
        ax.annotate("", xy=(m["size"].max() * 1.9, base), xytext=(m["size"].max() * 3.2, base),
                    arrowprops={"arrowstyle": "->", "color": c, "lw": 2})
        ax.text(m["size"].max() * 3.3, base, f"mean {name}", color=c, va="center", fontsize=9)
        if published is not None:
            ax.plot(published["size"], published[key], marker="s", mfc="none", ls=":", color=c,
                    label=f"Wu & Boada (2019) {name}")
        if rf is not None:
            for _, r in rf.iterrows():
                ax.axhline(r[key], color=style.COLORS["rf" if "tuned" not in r["model"] else "rf_tuned"],
                           ls="-." if key == "rmse" else ":", lw=1,
                           label=f"{r['model']} {name}")
    ax.set_xscale("log", base=2)
    ax.set_xticks(m["size"])
    ax.set_xticklabels([str(s) for s in m["size"]])
    ax.set_xlim(m["size"].min() / 1.5, m["size"].max() * 8)
    ax.set_xlabel("image size [px]")
    ax.set_ylabel(f"scatter of {target} residuals [dex]")
    ax.legend(frameon=False, fontsize=8, loc="upper right", bbox_to_anchor=(0.78, 1.0))
    style.save(fig, out)


def mass_metallicity(pred_csv: str, catalog_csv: str, out: list[str]) -> None:
    """Fig. 6: the MZR with Z_true and Z_pred against the true stellar mass, and the Tremonti curve."""
    df = pd.read_csv(pred_csv).merge(pd.read_csv(catalog_csv, usecols=["objID", "lgm_tot_p50"]), on="objID")
    df = df[df["lgm_tot_p50"] > 0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.3), sharex=True, sharey=True)
    x = np.linspace(*TREMONTI_RANGE, 100)
    for ax, col, name in ((axes[0], "true", "true"), (axes[1], "pred", "predicted (CNN)")):
        ax.hexbin(df["lgm_tot_p50"], df[col], gridsize=40, mincnt=1, cmap=style.CMAP, bins="log")
        ax.plot(x, tremonti_mzr(x), color=style.COLORS["nmad"], lw=2, label="Tremonti et al. (2004)")
        resid = df[col] - tremonti_mzr(df["lgm_tot_p50"])
        ax.set_title(f"Z$_{{\\rm {col}}}$ ({name}): scatter about MZR NMAD {nmad(resid):.3f} dex")
        ax.set_xlabel(r"$\log M_\star / M_\odot$ (true) [dex]")
        ax.legend(loc="lower right", frameon=False)
    axes[0].set_ylabel(style.Z_LABEL)
    style.save(fig, out)
