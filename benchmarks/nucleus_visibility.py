"""How visible is the nucleus's young light at 128 px and at 16 px, before any CNN is trained?

Renders synthetic galaxies as SkyServer serves them (128 px, 0.296"/px, JPEG), area-averages them
to 16 px as training does, and asks simple cross-validated models to predict `core_blueing` (where
the young stars sit) from the pixels: an upper bound on what 16 px shows, and a lower bound on
what 128 px shows (a CNN can do better than a linear model).
  python benchmarks/nucleus_visibility.py --n 3000 \
      --out benchmarks/results/nucleus_visibility_cpu.json
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import files, provenance, synthetic  # noqa: E402
from galaxy_cnn.images import decode_image, downsample, jpeg_of  # noqa: E402

SEED = 5


def _render(row) -> np.ndarray:
    settings = synthetic.RenderSettings()
    rgb = synthetic.render_galaxy(row, 128, 0.296, synthetic.galaxy_seed(SEED, row.objID), settings)
    return decode_image(jpeg_of(rgb, settings.jpeg_quality))


def colour_profile(images: np.ndarray, rings: int = 12) -> np.ndarray:
    """Per 1-px ring about the centre: mean R, G, B and log(B/R)."""
    yy, xx = np.indices(images.shape[1:3])
    radius = np.hypot(yy - (images.shape[1] - 1) / 2, xx - (images.shape[2] - 1) / 2)
    rgb = np.stack(
        [images[:, (radius >= a) & (radius < a + 1)].mean(axis=1) for a in range(rings)], axis=1
    )
    return np.hstack([rgb.reshape(len(images), -1), np.log1p(rgb[..., 2]) - np.log1p(rgb[..., 0])])


def r2(model, x: np.ndarray, y: np.ndarray) -> float:
    from sklearn.model_selection import cross_val_predict

    pred = cross_val_predict(model, x.reshape(len(x), -1).astype(float), y, cv=5)
    return float(1 - np.var(y - pred) / np.var(y))


def main() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import RidgeCV

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    cat, truth, _ = synthetic.draw_population(args.n, seed=SEED)
    rows = cat.merge(truth, on="objID")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.procs) as pool:
        images = np.stack(list(pool.map(_render, [r for _, r in rows.iterrows()], chunksize=50)))
    render_s = time.perf_counter() - t0
    y = rows["core_blueing"].to_numpy()
    small = downsample(images, 16)
    ridge = RidgeCV(alphas=np.logspace(-2, 5, 15))
    boost = HistGradientBoostingRegressor(max_iter=300)
    views = {
        "128px: central 24x24 px + the 16 px image, ridge": (
            ridge,
            np.hstack([images[:, 52:76, 52:76].reshape(args.n, -1), small.reshape(args.n, -1)]),
        ),
        "128px: colour profile of the central 12 px, gradient boosting": (
            boost,
            colour_profile(images),
        ),
        "16px: whole image, ridge": (ridge, small),
        "16px: central 6x6 px, ridge": (ridge, small[:, 5:11, 5:11]),
        "16px: central 8x8 px and their colours, gradient boosting": (
            boost,
            np.hstack(
                [
                    small[:, 4:12, 4:12].reshape(args.n, -1),
                    (
                        np.log1p(small[:, 4:12, 4:12, 2].astype(float))
                        - np.log1p(small[:, 4:12, 4:12, 0])
                    ).reshape(args.n, -1),
                ]
            ),
        ),
    }
    results = {
        "what": "cross-validated R^2 of core_blueing from the pixels "
        "(1 = fully visible, 0 = not at all)",
        "n_galaxies": args.n,
        "seed": SEED,
        "render_s": round(render_s, 1),
        "settings": vars(synthetic.PopulationSettings()),
        "provenance": provenance.collect(),
        "r2": {},
    }
    for name, (model, x) in views.items():
        results["r2"][name] = round(r2(model, x, y), 3)
        print(f"{name:62s} R2 {results['r2'][name]:6.3f}", flush=True)
    files.write_json(results, args.out)


if __name__ == "__main__":
    main()
