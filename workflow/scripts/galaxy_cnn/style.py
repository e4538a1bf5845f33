"""One figure style for every plot: readable fonts, colour-blind-safe colours (Okabe & Ito)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {
    "cnn": "#0072B2",
    "rmse": "#0072B2",
    "nmad": "#D55E00",
    "baseline": "#555555",
    "rf": "#009E73",
    "rf_tuned": "#CC79A7",
    "paper": "#E69F00",
    "line": "#000000",
}
CMAP = "viridis"


def apply() -> None:
    plt.rcParams.update(
        {
            "font.size": 11,
            "axes.labelsize": 12,
            "axes.titlesize": 12,
            "legend.fontsize": 9,
            "xtick.direction": "in",
            "ytick.direction": "in",
            "xtick.top": True,
            "ytick.right": True,
            "savefig.dpi": 150,
            "figure.dpi": 100,
            "savefig.bbox": "tight",
        }
    )


def save(fig, paths: list[str]) -> None:
    """Save one figure to every path given (PNG, PDF); atomically."""
    from . import files

    for p in paths:
        with files.atomic_path(p) as tmp:
            fig.savefig(tmp, format=p.rsplit(".", 1)[-1])
    plt.close(fig)


def corner_text(ax, text: str, *, fontsize: float = 9) -> None:
    """A panel's statistics in its upper-left corner, in axes coordinates."""
    ax.text(0.03, 0.95, text, transform=ax.transAxes, va="top", fontsize=fontsize)


Z_LABEL = r"$12 + \log({\rm O/H})$ [dex]"
