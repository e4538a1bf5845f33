"""The paper's figures, each from files on disk so that it can be rebuilt alone in seconds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.gridspec import GridSpec

from . import style
from .metrics import binned_scatter, nmad, rmse
from .relations import TREMONTI_RANGE, in_tremonti_range, tremonti_mzr

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
        top.scatter(
            bins["center"],
            bins[key],
            s=200 * bins["n"] / max(bins["n"].max(), 1),
            color=style.COLORS[key],
            alpha=0.8,
            label=f"{name} (all: {total:.4f})",
        )
        top.axhline(total, color=style.COLORS[key], ls="--", lw=1)
    top.set_ylabel("scatter [dex]")
    top.set_xlim(lo, hi)
    top.set_ylim(0, None)
    top.tick_params(labelbottom=False)
    top.legend(loc="upper right", frameon=False)
    h = ax.hist2d(true, pred, bins=[edges, edges], cmap=style.CMAP, cmin=1)
    fig.colorbar(
        h[3], ax=ax, orientation="horizontal", pad=0.12, fraction=0.05, label="galaxies per bin"
    )
    ax.plot([lo, hi], [lo, hi], color=style.COLORS["line"], lw=1, ls="--", label="one-to-one")
    ax.plot(
        bins["center"],
        bins["median_pred"],
        color=style.COLORS["nmad"],
        lw=2,
        marker="o",
        ms=3,
        label="running median",
    )
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"{label}$_{{\\rm true}}$ [dex]")
    ax.set_ylabel(f"{label}$_{{\\rm pred}}$ [dex]")
    title = f"N = {len(df)}" + (f", {size} px" if size else "")
    ax.legend(loc="upper left", frameon=False, title=title)
    style.save(fig, out)


def metrics_vs_size(
    metrics_csv: str,
    target: str,
    out: list[str],
    published: pd.DataFrame | None = None,
    rf: pd.DataFrame | None = None,
    floor: dict | None = None,
) -> None:
    """Fig. 4: RMSE and NMAD against image size, with the predict-the-mean baseline as arrows.

    `floor` (a synthetic universe's floor.json entry) adds the scatter no image can reveal."""
    m = pd.read_csv(metrics_csv)
    m = m[m["target"] == target].sort_values("size")
    fig, ax = plt.subplots(figsize=(9, 4.2))
    sizes = sorted(set(m["size"]) | (set(published["size"]) if published is not None else set()))
    right = max(sizes)
    for key, name in (("rmse", "RMSE"), ("nmad", "NMAD")):
        c = style.COLORS[key]
        ax.errorbar(
            m["size"],
            m[key],
            yerr=_metric_errors(m, key),
            marker="o",
            color=c,
            capsize=3,
            label=f"CNN {name}",
        )
        _mean_baseline_arrow(ax, m[f"baseline_{key}"].iloc[0], color=c, name=name, right=right)
        _reference_lines(ax, key, name, published=published, rf=rf, floor=floor)
    _size_axes(ax, sizes, target, top=max(m["baseline_rmse"].iloc[0], m["baseline_nmad"].iloc[0]))
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    style.save(fig, out)


def _metric_errors(m: pd.DataFrame, key: str) -> np.ndarray | None:
    """Error bars for `key`: the bootstrap 68% interval, widened by the seed spread in quadrature
    (both are real uncertainty); None where the intervals were not computed."""
    if not (f"{key}_lo" in m and m[f"{key}_lo"].notna().all()):
        return None
    spread = m[f"{key}_seed_std"].fillna(0).to_numpy() if f"{key}_seed_std" in m else 0
    lo = np.hypot(m[key] - m[f"{key}_lo"], spread)
    hi = np.hypot(m[f"{key}_hi"] - m[key], spread)
    return np.vstack([lo, hi])


def _mean_baseline_arrow(ax, base: float, *, color: str, name: str, right: float) -> None:
    """An arrow at the predict-the-mean scatter, right of the largest size, named in the legend
    (not beside the arrow: the RMSE and NMAD arrows are often a hair apart)."""
    ax.annotate(
        "",
        xy=(right * 1.6, base),
        xytext=(right * 2.8, base),
        arrowprops={"arrowstyle": "->", "color": color, "lw": 2},
    )
    ax.plot(
        [],
        [],
        marker=r"$\leftarrow$",
        ms=12,
        ls="none",
        color=color,
        label=f"predicting the mean: {name} {base:.3f}",
    )


def _reference_lines(
    ax,
    key: str,
    name: str,
    *,
    published: pd.DataFrame | None,
    rf: pd.DataFrame | None,
    floor: dict | None,
) -> None:
    """What the CNN's `key` metric is judged against, where given: the paper's values, the random
    forests, and the floor (the scatter no image can reveal)."""
    c = style.COLORS[key]
    if published is not None:
        ax.plot(
            published["size"],
            published[key],
            marker="s",
            mfc="none",
            ls=":",
            color=c,
            label=f"Wu & Boada (2019) {name}",
        )
    if rf is not None:
        for _, r in rf.iterrows():
            tuned = "tuned" in r["model"]
            ax.axhline(
                r[key],
                color=style.COLORS["rf_tuned" if tuned else "rf"],
                ls="-." if key == "rmse" else ":",
                lw=1,
                label=f"{'tuned' if tuned else 'default'} random forest {name}",
            )
    if floor is not None:
        ax.axhline(
            floor[f"floor_{key}"],
            color=c,
            ls="--",
            lw=1,
            alpha=0.6,
            label=f"floor {name} (hidden scatter)",
        )


def _size_axes(ax, sizes: list[int], target: str, *, top: float) -> None:
    """Log-2 size axis labelled at each size, room on the right for the arrows, and a y range
    that keeps the baseline arrows (up to `top`) inside the axes."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes)
    ax.set_xticklabels([str(s) for s in sizes])
    ax.set_xlim(min(sizes) / 1.5, max(sizes) * 3.5)
    ax.set_xlabel("image size [px]")
    ax.set_ylabel(f"scatter of {target} residuals [dex]")
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, max(hi, 1.06 * top))


def mass_metallicity(
    pred_csv: str,
    catalog_csv: str,
    out: list[str],
    n_boot: int = 200,
    truth: str = "SDSS (MPA-JHU)",
) -> dict:
    """Fig. 6: the MZR with Z_true and Z_pred against the true stellar mass, the Tremonti curve,
    and the scatter ratio NMAD(CNN)/NMAD(truth) with the paper's binning and a bootstrap error.
    `truth` names where Z_true comes from (the source's catalog)."""
    from .metrics import bootstrap_scatter_ratio, mzr_scatter_ratio

    df = pd.read_csv(pred_csv).merge(
        pd.read_csv(catalog_csv, usecols=["objID", "lgm_tot_p50"]), on="objID"
    )
    df = df[np.isfinite(df["lgm_tot_p50"]) & (df["lgm_tot_p50"] > 0)]
    ratio, wstd, bins = mzr_scatter_ratio(df["lgm_tot_p50"], df["true"], df["pred"])
    boot = bootstrap_scatter_ratio(df["lgm_tot_p50"], df["true"], df["pred"], n_boot=n_boot)
    fig = plt.figure(figsize=(10, 6.2))
    gs = GridSpec(2, 2, height_ratios=[1, 2.6], hspace=0.05, wspace=0.05, figure=fig)
    top = fig.add_subplot(gs[0, :])
    axes = [fig.add_subplot(gs[1, 0]), None]
    axes[1] = fig.add_subplot(gs[1, 1], sharex=axes[0], sharey=axes[0])
    for ax, col, name in ((axes[0], "true", truth), (axes[1], "pred", "CNN")):
        _mzr_panel(ax, df, col, name)
    axes[0].set_ylabel(style.Z_LABEL)
    axes[1].tick_params(labelleft=False)
    _scatter_ratio_panel(top, bins, ratio=ratio, wstd=wstd, boot=boot)
    top.set_xlim(*axes[0].get_xlim())
    style.save(fig, out)
    return {
        "scatter_ratio": ratio,
        "scatter_ratio_wstd": wstd,
        "scatter_ratio_bootstrap": boot,
        "n": len(df),
    }


def _mzr_panel(ax, df: pd.DataFrame, col: str, name: str) -> None:
    """Z (`col`) against the true mass, with the Tremonti curve and the NMAD about it."""
    x = np.linspace(*TREMONTI_RANGE, 100)
    ax.hexbin(df["lgm_tot_p50"], df[col], gridsize=40, mincnt=1, cmap=style.CMAP, bins="log")
    ax.plot(x, tremonti_mzr(x), color=style.COLORS["nmad"], lw=2, label="Tremonti et al. (2004)")
    resid = df[col] - tremonti_mzr(df["lgm_tot_p50"])
    style.corner_text(
        ax,
        f"Z$_{{\\rm {col}}}$ ({name})\nscatter about MZR: NMAD {nmad(resid):.3f} dex",
        fontsize=10,
    )
    ax.set_xlabel(r"$\log M_\star / M_\odot$ (true) [dex]")
    ax.legend(loc="lower right", frameon=False)


def _scatter_ratio_panel(
    top, bins: pd.DataFrame, *, ratio: float, wstd: float, boot: float
) -> None:
    """The per-mass-bin NMAD ratio (marker area by galaxy count), its weighted mean against the
    paper's, and the line of equal scatter."""
    top.scatter(
        bins["mass_centre"],
        bins["ratio"],
        s=300 * bins["n"] / max(bins["n"].max(), 1),
        color=style.COLORS["cnn"],
        alpha=0.8,
    )
    top.axhline(
        ratio,
        color=style.COLORS["cnn"],
        ls="--",
        lw=1,
        label=(
            f"weighted mean {ratio:.3f} $\\pm$ {wstd:.3f} (bootstrap $\\pm$ {boot:.3f}); "
            "paper 0.821 $\\pm$ 0.077"
        ),
    )
    top.axhline(1, color=style.COLORS["line"], lw=0.8)
    top.set_ylabel("NMAD ratio\nCNN / true")
    top.tick_params(labelbottom=False)
    top.legend(loc="upper left", frameon=False, fontsize=8)


def distributions(pred_csv: str, out: list[str], size: int | None = None) -> None:
    """Fig. 2: the distributions of Z_true and Z_pred on the test set."""
    df = pd.read_csv(pred_csv)
    lo, hi = np.percentile(np.r_[df["true"], df["pred"]], [0.2, 99.8])
    edges = np.linspace(lo, hi, 50)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(
        df["true"],
        bins=edges,
        histtype="stepfilled",
        alpha=0.35,
        color=style.COLORS["baseline"],
        label=f"Z$_{{\\rm true}}$ (median {df['true'].median():.3f}, std {df['true'].std():.3f})",
    )
    ax.hist(
        df["pred"],
        bins=edges,
        histtype="step",
        lw=2,
        color=style.COLORS["cnn"],
        label=f"Z$_{{\\rm pred}}$ (median {df['pred'].median():.3f}, std {df['pred'].std():.3f})",
    )
    ax.set_xlabel(style.Z_LABEL)
    ax.set_ylabel("galaxies per bin")
    ax.legend(
        frameon=False,
        loc="upper left",
        title=f"test set, N = {len(df)}" + (f", {size} px" if size else ""),
    )
    style.save(fig, out)


def gallery(
    pred_csv: str, packed_npy: str, index_csv: str, out: list[str], per_row: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Fig. 1: test galaxies in rows a-g with Z_pred and Z_true on each stamp; returns the picks."""
    from .images import load_packed

    df = pd.read_csv(pred_csv)
    images, index = load_packed(packed_npy, index_csv)
    df = df.merge(index, on="objID")
    df["res"] = df["pred"] - df["true"]
    rng = np.random.default_rng(seed)
    picks = {
        "a: lowest Z_pred": df.nsmallest(per_row, "pred"),
        "b: lowest Z_true": df.nsmallest(per_row, "true"),
        "c: highest Z_pred": df.nlargest(per_row, "pred"),
        "d: highest Z_true": df.nlargest(per_row, "true"),
        "e: most negative residual": df.nsmallest(per_row, "res"),
        "f: most positive residual": df.nlargest(per_row, "res"),
        "g: random": df.iloc[rng.choice(len(df), min(per_row, len(df)), replace=False)],
    }
    fig, axes = plt.subplots(
        len(picks), per_row, figsize=(1.6 * per_row + 1.6, 1.75 * len(picks)), squeeze=False
    )
    rows = []
    for r, (label, sel) in enumerate(picks.items()):
        for c in range(per_row):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(sel):
                ax.axis("off")
                continue
            g = sel.iloc[c]
            ax.imshow(images[int(g["row"])], interpolation="nearest")
            ax.text(
                0.03,
                0.97,
                f"pred {g['pred']:.2f}",
                color="white",
                fontsize=7,
                va="top",
                transform=ax.transAxes,
            )
            ax.text(
                0.03,
                0.03,
                f"true {g['true']:.2f}",
                color="white",
                fontsize=7,
                transform=ax.transAxes,
            )
            rows.append(
                {"row_label": label, "objID": int(g["objID"]), "true": g["true"], "pred": g["pred"]}
            )
        axes[r, 0].set_ylabel(label.replace(": ", ":\n"), fontsize=8)
    fig.subplots_adjust(wspace=0.03, hspace=0.05)
    style.save(fig, out)
    return pd.DataFrame(rows)


def stellar_mass(mass_pred_csv: str, z_catalog_csv: str, z_column: str, out: list[str]) -> dict:
    """Fig. 5: M*_pred vs M*_true, and Z from the Tremonti MZR at M*_pred vs Z_true."""
    m = pd.read_csv(mass_pred_csv).merge(
        pd.read_csv(z_catalog_csv, usecols=["objID", z_column]), on="objID"
    )
    in_range = in_tremonti_range(m["pred"]) & np.isfinite(m[z_column])
    z = m[in_range]
    z_from_mass = tremonti_mzr(z["pred"].to_numpy())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
    for ax, (xt, yp, lab) in zip(
        axes,
        (
            (m["true"], m["pred"], r"\log M_{\star,\rm true}"),
            (z[z_column], z_from_mass, r"Z_{\rm true}"),
        ),
        strict=True,
    ):
        lo, hi = np.percentile(np.r_[xt, yp], [0.5, 99.5])
        ax.hist2d(xt, yp, bins=40, range=[[lo, hi], [lo, hi]], cmap=style.CMAP, cmin=1)
        ax.plot([lo, hi], [lo, hi], color=style.COLORS["line"], ls="--", lw=1)
        res = np.asarray(yp) - np.asarray(xt)
        style.corner_text(ax, f"N = {len(res)}\nRMSE {rmse(res):.4f}\nNMAD {nmad(res):.4f}")
        ax.set_xlabel(f"${lab}$ [dex]")
    axes[0].set_ylabel(r"$\log M_{\star,\rm pred}$ [dex] (CNN)")
    axes[1].set_ylabel(r"Z from Tremonti MZR at $M_{\star,\rm pred}$ [dex]")
    style.save(fig, out)
    mres = m["pred"] - m["true"]
    zres = z_from_mass - z[z_column].to_numpy()
    return {
        "mass_rmse": rmse(mres),
        "mass_nmad": nmad(mres),
        "z_from_mass_rmse": rmse(zres),
        "z_from_mass_nmad": nmad(zres),
        "z_from_mass_excluded_outside_mzr_range": int((~in_range).sum()),
    }


def uncertainty_calibration(
    pred_csv: str, catalog_csv: str, out: list[str], label: str = "Z"
) -> dict:
    """Are the predicted uncertainties right? Coverage against nominal level, residual/pred_std
    against a unit Gaussian and, where the catalog has oh_p16 and oh_p84, pred_std against the
    spectroscopic half-width (oh_p84 - oh_p16)/2."""
    df = pd.read_csv(pred_csv)
    z = (df["pred"] - df["true"]) / df["pred_std"]
    cat = pd.read_csv(catalog_csv, dtype={"objID": "int64"})
    spec = {"oh_p16", "oh_p84"} <= set(cat.columns) and label == "oh_p50"
    fig, axes = plt.subplots(1, 3 if spec else 2, figsize=(13 if spec else 9, 4))
    _coverage_panel(axes[0], z)
    _pull_panel(axes[1], z)
    result = {
        "n": len(df),
        "coverage_1sigma": float((np.abs(z) < 1).mean()),
        "coverage_2sigma": float((np.abs(z) < 2).mean()),
    }
    if spec:
        result["median_spectroscopic_half_width"] = _half_width_panel(axes[2], df, cat)
    fig.tight_layout()
    style.save(fig, out)
    return result


def _coverage_panel(ax, z: pd.Series) -> None:
    """Fraction of galaxies inside each nominal Gaussian interval, with the 1 and 2 sigma values
    written in a corner (never at the points: the 2 sigma point sits at the top edge)."""
    from scipy.stats import norm

    levels = np.linspace(0.01, 0.99, 99)
    covered = [(np.abs(z) < norm.ppf(0.5 + p / 2)).mean() for p in levels]
    ax.plot(levels, covered, color=style.COLORS["cnn"], label="CNN")
    ax.plot([0, 1], [0, 1], color=style.COLORS["line"], ls="--", lw=1, label="calibrated")
    inside = []
    for p, name in ((0.6827, r"1$\sigma$"), (0.9545, r"2$\sigma$")):
        got = (np.abs(z) < norm.ppf(0.5 + p / 2)).mean()
        ax.plot(p, got, "o", color=style.COLORS["nmad"])
        inside.append(f"{name} ({p:.3f}): {got:.3f}")
    ax.text(
        0.97,
        0.04,
        "inside\n" + "\n".join(inside),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=9,
    )
    ax.set(
        xlabel="nominal coverage",
        ylabel="fraction of test galaxies inside",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(frameon=False, loc="upper left")


def _pull_panel(ax, z: pd.Series) -> None:
    """The residual / pred_std histogram (clipped to +-5) against the unit Gaussian it should be."""
    from scipy.stats import norm

    bins = np.linspace(-5, 5, 51)
    ax.hist(
        z.clip(-5, 5),
        bins=bins,
        density=True,
        color=style.COLORS["cnn"],
        alpha=0.6,
        label="residual / pred_std",
    )
    ax.plot(bins, norm.pdf(bins), color=style.COLORS["line"], lw=1.5, label="unit Gaussian")
    ax.set(xlabel=r"$(Z_{\rm pred} - Z_{\rm true}) / \sigma_{\rm pred}$", ylabel="density")
    ax.legend(frameon=False, fontsize=8)


def _half_width_panel(ax, df: pd.DataFrame, cat: pd.DataFrame) -> float:
    """pred_std against the spectroscopic half-width (oh_p84 - oh_p16)/2; returns its median."""
    m = df.merge(cat[["objID", "oh_p16", "oh_p84"]], on="objID")
    half = (m["oh_p84"] - m["oh_p16"]) / 2
    ax.scatter(half, m["pred_std"], s=6, alpha=0.5, color=style.COLORS["cnn"])
    top = float(np.nanmax([half.max(), m["pred_std"].max()]))
    ax.plot([0, top], [0, top], color=style.COLORS["line"], ls="--", lw=1)
    ax.set(
        xlabel=r"spectroscopic $(Z_{84} - Z_{16}) / 2$ [dex]",
        ylabel=r"CNN $\sigma_{\rm pred}$ [dex]",
    )
    return float(np.nanmedian(half))


def run_comparison(table_csv: str, labels: tuple[str, str], out: list[str]) -> None:
    """NMAD against size for two runs of the same galaxies and for the other run's model on this
    run's images (left), and the ratio of the two runs' NMAD (right), with 68% intervals."""
    t = pd.read_csv(table_csv).sort_values("size")
    this, other = labels
    fig, (ax, ax_ratio) = plt.subplots(1, 2, figsize=(10, 4.2), width_ratios=[3, 2])
    lines = (
        ("nmad", f"{this}", "cnn", "o"),
        ("other_nmad", f"{other}", "nmad", "s"),
        ("other_model_nmad", f"{other} model on {this} images", "baseline", "^"),
    )
    for key, name, colour, marker in lines:
        ax.errorbar(
            t["size"],
            t[key],
            yerr=[t[key] - t[f"{key}_lo"], t[f"{key}_hi"] - t[key]],
            marker=marker,
            color=style.COLORS[colour],
            capsize=3,
            label=name,
        )
    sizes = [int(s) for s in t["size"]]
    for a in (ax, ax_ratio):
        a.set_xscale("log", base=2)
        a.set_xticks(sizes)
        a.set_xticklabels([str(s) for s in sizes])
        a.set_xlim(min(sizes) / 1.5, max(sizes) * 1.5)
        a.set_xlabel("image size [px]")
    ax.set_ylabel("NMAD of residuals [dex]")
    ax.legend(frameon=False, fontsize=8)
    ax_ratio.errorbar(
        t["size"],
        t["nmad_ratio"],
        yerr=[t["nmad_ratio"] - t["nmad_ratio_lo"], t["nmad_ratio_hi"] - t["nmad_ratio"]],
        marker="o",
        color=style.COLORS["line"],
        capsize=3,
    )
    ax_ratio.axhline(1, color=style.COLORS["baseline"], lw=1, ls=":")
    ax_ratio.set_ylabel(f"NMAD ratio, {this} / {other}")
    fig.tight_layout()
    style.save(fig, out)
