"""Image statistics that compare synthetic cutouts with real SkyServer ones, measured identically.

Per image (RGB uint8, 128 px at 0.296"/px): sky level and sky noise per channel (sigma-clipped
mean and standard deviation of an 8-px border), core colour (mean of the central 8x8 px per
channel), peak brightness (99.9th percentile of the luminance), two sizes (light-weighted: the
half-light radius in px of the sky-subtracted luminance inside 40 px of the centre; isophotal: the
radius of a circle with the area of the central source more than 3 sigma above the sky), that
source's axis ratio b/a (light-weighted second moments), the colour gradient (B/R of the
outskirts, 1 to 2.5 half-light radii, over B/R of the core: disks are bluer than bulges) and
whether the frame holds a neighbour (a second source of at least 6 px more than 5 sigma above the
sky, away from the central galaxy).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from . import files, synthetic
from .images import decode_image, jpeg_of

CHANNELS = ("R", "G", "B")
MEDIAN_TOLERANCE = 0.20  # each median within 20% (the goal set for tuning)


def clipped_stats(values: np.ndarray, k: float = 3.0, iterations: int = 5) -> tuple[float, float]:
    """Mean and standard deviation after iterative k-sigma clipping about the median.

    Continuous, unlike quantiles of 8-bit values (a median sky of 2 or 3 counts, an IQR of 4 or 5,
    moves a median over galaxies by 25-50%), and blind to the odd star in the border."""
    keep = np.ones(values.shape, bool)
    for _ in range(iterations):
        spread = max(float(values[keep].std()), 0.5)
        keep = np.abs(values - np.median(values[keep])) < k * spread
    return float(values[keep].mean()), float(values[keep].std())


def _axis_ratio(lum: np.ndarray, mask: np.ndarray) -> float:
    """b/a from the light-weighted second moments of the pixels in `mask` (1 round, small
    edge-on)."""
    yy, xx = np.nonzero(mask)
    w = np.clip(lum[mask], 0, None)
    if yy.size < 5 or w.sum() <= 0:
        return np.nan
    cov = np.cov(np.stack([yy, xx]), aweights=w, bias=True)
    minor, major = np.linalg.eigvalsh(cov)
    return float(np.sqrt(max(minor, 0) / major))


def image_stats(rgb: np.ndarray) -> dict:
    """The statistics of one RGB uint8 cutout that the module docstring lists."""
    a = rgb.astype(float)
    n = a.shape[0]
    border = np.concatenate(
        [
            a[:8].reshape(-1, 3),
            a[-8:].reshape(-1, 3),
            a[8:-8, :8].reshape(-1, 3),
            a[8:-8, -8:].reshape(-1, 3),
        ]
    )
    sky, noise = np.array([clipped_stats(border[:, k]) for k in range(3)]).T
    c = n // 2
    core = a[c - 4 : c + 4, c - 4 : c + 4].reshape(-1, 3).mean(axis=0)
    excess = a - sky  # light above the sky, per channel
    lum = excess.mean(axis=2)
    lum_noise = max(float(noise.mean()), 0.5)
    half_light, gradient = _half_light_and_gradient(excess, lum, lum_noise)
    isophotal, axis_ratio = _central_source(lum, lum_noise)
    row = {f"sky_{ch}": sky[k] for k, ch in enumerate(CHANNELS)}
    row |= {f"noise_{ch}": noise[k] for k, ch in enumerate(CHANNELS)}
    row |= {f"core_{ch}": core[k] for k, ch in enumerate(CHANNELS)}
    row |= {
        "peak": float(np.percentile(a.mean(axis=2), 99.9)),
        "half_light_px": half_light,
        "isophotal_radius_px": isophotal,
        "axis_ratio": axis_ratio,
        "colour_gradient": gradient,
        "has_neighbour": float(_has_neighbour(lum, lum_noise)),
    }
    return row


def _half_light_and_gradient(
    excess: np.ndarray, lum: np.ndarray, lum_noise: float
) -> tuple[float, float]:
    """Half-light radius (px) of the luminosity inside 40 px, and B/R of the outskirts (1 to 2.5
    half-light radii, above the sky) over B/R of the core."""
    c = lum.shape[0] // 2
    yy, xx = np.indices(lum.shape)
    radius = np.hypot(yy - c + 0.5, xx - c + 0.5)
    inner = (radius < 40) & (lum > 0)
    order = np.argsort(radius[inner])
    cum = np.cumsum(lum[inner][order])
    half_light = (
        float(radius[inner][order][np.searchsorted(cum, cum[-1] / 2)])
        if cum.size and cum[-1] > 0
        else 0.0
    )
    rim = (radius > half_light) & (radius < 2.5 * half_light) & (lum > 3 * lum_noise)
    rim_rgb = excess[rim].sum(axis=0)
    core_rgb = excess[radius < 4].sum(axis=0)
    # a frame without outskirts gives NaN, ignored by medians
    with np.errstate(invalid="ignore", divide="ignore"):
        gradient = (
            (rim_rgb[2] / rim_rgb[0]) / (core_rgb[2] / core_rgb[0]) if rim.sum() >= 10 else np.nan
        )
    return half_light, gradient


def _central_source(lum: np.ndarray, lum_noise: float) -> tuple[float, float]:
    """Isophotal radius (px) and axis ratio of the source more than 3 sigma above the sky that
    holds the centre."""
    c = lum.shape[0] // 2
    isophote, _ = ndimage.label(lum > 3 * lum_noise)
    centre_id = isophote[c - 1, c - 1]  # the pixel just up-left of the centre of an even frame
    source = isophote == centre_id
    isophotal = float(np.sqrt(source.sum() / np.pi)) if centre_id else 0.0
    axis_ratio = _axis_ratio(lum, source) if centre_id else np.nan
    return isophotal, axis_ratio


def _has_neighbour(lum: np.ndarray, lum_noise: float) -> bool:
    """A second source of at least 6 px more than 5 sigma above the sky, away from the centre."""
    c = lum.shape[0] // 2
    labels, _ = ndimage.label(lum > 5 * lum_noise)
    central = labels[c - 2 : c + 2, c - 2 : c + 2]
    central_ids = set(np.unique(central[central > 0]))
    sizes = np.bincount(labels.ravel())
    others = [i for i in range(1, len(sizes)) if i not in central_ids and sizes[i] >= 6]
    return bool(others)


def folder_stats(paths: list[Path], label: str) -> pd.DataFrame:
    rows = [image_stats(decode_image(p)) | {"set": label, "file": Path(p).name} for p in paths]
    return pd.DataFrame(rows)


def render_sample(
    catalog_csv: str,
    truth_csv: str,
    n: int,
    seed: int,
    out_dir: Path,
    settings: synthetic.RenderSettings | None = None,
) -> list[Path]:
    """Render `n` catalog galaxies exactly as SkyServer cutouts are served: 128 px, 0.296"/px,
    JPEG."""
    cat = pd.read_csv(catalog_csv, dtype={"objID": "int64"}).merge(
        pd.read_csv(truth_csv, dtype={"objID": "int64"}), on="objID"
    )
    rows = cat.sample(min(n, len(cat)), random_state=seed)
    settings = settings or synthetic.RenderSettings()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in rows.itertuples(index=False):
        rgb = synthetic.render_galaxy(
            row, 128, 0.296, synthetic.galaxy_seed(seed, row.objID), settings
        )
        path = out_dir / f"{row.objID}.jpg"
        files.write_bytes(path, jpeg_of(rgb, settings.jpeg_quality))
        paths.append(path)
    return paths


def compare(stats: pd.DataFrame) -> pd.DataFrame:
    """Median of every statistic per set, the synthetic/real ratio and whether it is within 20%."""
    cols = [c for c in stats.columns if c not in ("set", "file")]
    by_set = stats.groupby("set")
    typical = by_set[cols].median()
    typical["has_neighbour"] = by_set[
        "has_neighbour"
    ].mean()  # a fraction of 0/1 flags, not a median
    out = pd.DataFrame(
        {
            "statistic": cols,
            "real_median": typical.loc["real", cols].to_numpy(),
            "synthetic_median": typical.loc["synthetic", cols].to_numpy(),
        }
    )
    out["ratio"] = out["synthetic_median"] / out["real_median"].replace(0, np.nan)
    out["within_20pct"] = (out["ratio"] - 1).abs() <= MEDIAN_TOLERANCE
    return out


def calibrate(
    catalog: str,
    truth: str,
    *,
    real: str,
    n: int,
    seed: int,
    out: str,
    render: dict | None = None,
) -> pd.DataFrame:
    """Render, measure both sets, write stats.csv, comparison.csv/.md, calibration.png, gallery.png.

    Arguments are the calibration rule's inputs and params: `real` the folder of real cutouts, `n`
    the galaxies to render, `out` the folder written. `render` holds the config's synthetic.render
    overrides, so the cutouts measured are the ones trained on."""
    from .tables import to_markdown

    folder = Path(out)
    real_paths = sorted(Path(real).glob("*.jpg"))
    if not real_paths:
        raise FileNotFoundError(f"calibration.real_images: no JPEG cutouts in {real}")
    synth_paths = render_sample(
        catalog,
        truth,
        n,
        seed,
        folder / "synthetic_cutouts",
        synthetic.RenderSettings(**(render or {})),
    )
    stats = pd.concat(
        [folder_stats(real_paths, "real"), folder_stats(synth_paths, "synthetic")],
        ignore_index=True,
    )
    files.write_csv(stats, folder / "stats.csv", float_format="%.4f")
    table = compare(stats)
    files.write_csv(table, folder / "comparison.csv", float_format="%.4f")
    with files.atomic_path(folder / "comparison.md") as tmp:
        tmp.write_text(to_markdown(table))
    _histograms(stats, list(table["statistic"]), len(real_paths), folder / "calibration.png")
    rng = np.random.default_rng(seed)
    pick = {
        "real": rng.choice(real_paths, 12, replace=False),
        "synthetic": rng.choice(synth_paths, 12, replace=False),
    }
    _gallery(pick, folder / "gallery.png")
    return table


def _histograms(stats: pd.DataFrame, cols: list[str], n_real: int, path: Path) -> None:
    """One panel per statistic: real and synthetic distributions, medians in the legend."""
    import matplotlib.pyplot as plt

    from . import style

    style.apply()
    fig, axes = plt.subplots(3, 5, figsize=(16, 9))
    for ax, col in zip(axes.flat, cols, strict=False):
        lo, hi = np.nanpercentile(stats[col], [1, 99])
        bins = np.linspace(lo, hi + 1e-9, 25)
        for label, color in (
            ("real", style.COLORS["baseline"]),
            ("synthetic", style.COLORS["cnn"]),
        ):
            v = stats.loc[stats["set"] == label, col].dropna()
            ax.hist(
                v,
                bins=bins,
                histtype="step",
                lw=2,
                density=True,
                color=color,
                label=f"{label} ({v.median():.2f})"
                if col != "has_neighbour"
                else f"{label} ({v.mean():.2f})",
            )
        ax.set_title(col, fontsize=10)
        ax.legend(fontsize=7, frameon=False)
    for ax in axes.flat[len(cols) :]:
        ax.axis("off")
    fig.suptitle(
        f"Synthetic ({(stats['set'] == 'synthetic').sum()}) vs real SDSS ({n_real}) cutouts, "
        '128 px at 0.296"/px; median in brackets'
    )
    fig.tight_layout()
    style.save(fig, [str(path)])


def _gallery(pick: dict, path: Path) -> None:
    """Two rows of real cutouts above two of synthetic ones."""
    import matplotlib.pyplot as plt

    from . import style

    fig, axes = plt.subplots(4, 6, figsize=(12, 8.4))
    for r in range(4):
        label = "real" if r < 2 else "synthetic"
        for c in range(6):
            ax = axes[r, c]
            ax.imshow(decode_image(pick[label][(r % 2) * 6 + c]))
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(label)
    fig.subplots_adjust(wspace=0.03, hspace=0.03)
    style.save(fig, [str(path)])
