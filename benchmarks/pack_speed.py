"""Packing benchmark: a JPEG folder to one uint8 array, images per second per core.

Writes N synthetic-looking 128 px JPEGs (a Gaussian galaxy on sky noise, SkyServer-like file
sizes), drops them from nothing but the page cache, then times in one run:
  baseline  the loop a user would write: PIL open + convert + np.stack, one core;
  pool_copy worker processes that return decoded arrays to the parent (the usual pattern);
  pack      galaxy_cnn.images.pack_images_to: workers decode straight into a memory-mapped .npy.
  python benchmarks/pack_speed.py --n 20000 --out benchmarks/results/pack_speed.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import images, provenance  # noqa: E402


def write_jpegs(folder: Path, n: int, size: int = 128, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] - size / 2
    paths = []
    for i in range(n):
        r = rng.uniform(3, 12)
        blob = np.exp(-(xx**2 + yy**2) / (2 * r**2))[..., None] * rng.uniform(60, 200, 3)
        img = np.clip(blob + rng.normal(6, 4, (size, size, 3)), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, "JPEG", quality=80)
        path = folder / f"{i}.jpg"
        path.write_bytes(buf.getvalue())
        paths.append(str(path))
    return paths


def baseline(paths: list[str]) -> np.ndarray:
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def _decode_chunk(paths: list[str]) -> np.ndarray:
    return baseline(paths)


def pool_copy(paths: list[str], workers: int, chunk: int = 1024) -> np.ndarray:
    with ProcessPoolExecutor(workers) as pool:
        parts = list(
            pool.map(_decode_chunk, [paths[s : s + chunk] for s in range(0, len(paths), chunk)])
        )
    return np.concatenate(parts)


def timed(fn, n: int, cores: int) -> dict:
    t0 = time.perf_counter()
    fn()
    s = time.perf_counter() - t0
    return {
        "seconds": s,
        "images_per_s": n / s,
        "cores": cores,
        "images_per_s_per_core": n / s / cores,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--out", default="benchmarks/results/pack_speed.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = write_jpegs(folder, args.n)
        mean_kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
        baseline(paths[:200])  # warm the page cache and imports alike for every contender
        npy = str(folder / "packed.npy")
        res = {
            "baseline_1core": timed(lambda: baseline(paths), args.n, 1),
            "pack_1core": timed(
                lambda: images.pack_images_to(paths, 128, npy, workers=1), args.n, 1
            ),
            f"pool_copy_{args.workers}cores": timed(
                lambda: pool_copy(paths, args.workers), args.n, args.workers
            ),
            f"pack_{args.workers}cores": timed(
                lambda: images.pack_images_to(paths, 128, npy, args.workers), args.n, args.workers
            ),
        }
        assert np.array_equal(np.load(npy, mmap_mode="r")[:50], baseline(paths[:50]))
    out = {
        "n_images": args.n,
        "size_px": 128,
        "mean_jpeg_kb": mean_kb,
        "cpu_count": os.cpu_count(),
        "results": res,
        "provenance": provenance.collect(),
    }
    for k, v in res.items():
        print(
            f"{k:>16}: {v['images_per_s']:8.0f} img/s  {v['images_per_s_per_core']:7.0f} img/s/core"
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
