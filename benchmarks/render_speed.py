"""Synthetic rendering benchmark: galaxies per second per core, and the 150k-galaxy estimate.

Times in one run, on the same galaxies:
  naive     the obvious GalSim recipe: per band, convolve (bulge + disk) with the PSF and
            draw (3 FFT convolutions per galaxy), then the same noise, stretch and JPEG;
  ours      galaxy_cnn.sources.synthetic.cutouts_shard, the workflow's own path (unit-flux
            bulge and disk drawn once and mixed per band, numpy arms/clumps, neighbours, sky,
            stretch, JPEG),
            one shard per process on 1 and on all cores.
  python benchmarks/render_speed.py --n 200 --out benchmarks/results/render_speed.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
from galaxy_cnn import files, provenance, synthetic  # noqa: E402
from galaxy_cnn.images import jpeg_of  # noqa: E402
from galaxy_cnn.sources import synthetic as synthetic_source  # noqa: E402
from galaxy_cnn.synthetic import render  # noqa: E402


def naive_render(
    row, size: int, scale: float, seed: int, settings: synthetic.RenderSettings
) -> bytes:
    """Per-band GalSim convolution of the whole galaxy: what one writes first."""
    import galsim

    rng = np.random.default_rng(seed)
    n_nat = synthetic.native_grid_px(size, scale)
    psf = galsim.Moffat(beta=3.5, fwhm=row.seeing_fwhm)
    beta = row.position_angle * galsim.degrees
    f_bulge, f_disk = render._band_fluxes(row, "gri")
    planes = []
    for b in range(3):
        gal = galsim.Exponential(half_light_radius=row.hlr_disk, flux=f_disk[b]).shear(
            q=row.q_disk, beta=beta
        ) + galsim.DeVaucouleurs(
            half_light_radius=row.hlr_bulge, trunc=8 * row.hlr_bulge, flux=max(f_bulge[b], 1e-6)
        ).shear(q=row.q_bulge, beta=beta)
        conv = galsim.Convolve(gal, psf, gsparams=galsim.GSParams(maximum_fft_size=8192))
        planes.append(conv.drawImage(nx=n_nat, ny=n_nat, scale=synthetic.NATIVE_SCALE).array)
    planes = np.stack(planes)
    planes += np.asarray(settings.sky_sigma)[:, None, None] * rng.normal(size=planes.shape)
    rgb = synthetic.planes_to_rgb(planes, n_nat, size, scale, settings)
    return jpeg_of(rgb, settings.jpeg_quality)


def _shard(args: tuple) -> float:
    catalog, truth, out_dir, shard, n_shards, cfg, manifest = args
    t0 = time.perf_counter()
    synthetic_source.cutouts_shard(
        catalog,
        {"truth": truth},
        shard=shard,
        n_shards=n_shards,
        image=cfg["image"],
        settings=cfg["settings"],
        folder=out_dir,
        out_manifest=manifest,
    )
    return time.perf_counter() - t0


def run_ours(
    catalog: str, truth: str, work: Path, *, size: int, scale: float, n_proc: int, n: int
) -> float:
    out = work / f"ours-{size}-{n_proc}"
    out.mkdir()
    cfg = {"image": {"size": size, "scale": scale}, "settings": {"seed": 1, "render": {}}}
    jobs = [
        (catalog, truth, str(out), k, n_proc, cfg, str(out / f"m{k}.csv")) for k in range(n_proc)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(n_proc) as pool:
        list(pool.map(_shard, jobs))
    wall = time.perf_counter() - t0
    assert len(list(out.glob("*.jpg"))) == n
    return n / wall


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=200, help="galaxies per measurement")
    ap.add_argument("--out", default="benchmarks/results/render_speed.json")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    cat, truth, _ = synthetic.draw_population(args.n, seed=3)
    rows = cat.merge(truth, on="objID")
    settings = synthetic.RenderSettings()
    results = {"n_galaxies": args.n, "cores": cores, "provenance": provenance.collect(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files.write_csv(cat, work / "catalog.csv")
        files.write_csv(truth, work / "truth.csv")
        for size, scale in ((128, 0.296), (64, 0.592)):
            t0 = time.perf_counter()
            for row in rows.itertuples(index=False):
                naive_render(row, size, scale, synthetic.galaxy_seed(1, row.objID), settings)
            naive = args.n / (time.perf_counter() - t0)
            results["runs"].append(
                {
                    "method": "naive",
                    "size": size,
                    "processes": 1,
                    "galaxies_per_s": naive,
                    "galaxies_per_s_per_core": naive,
                }
            )
            print(
                f"{size:4d} px  naive per-band GalSim, 1 core: {naive:6.1f} galaxies/s", flush=True
            )
            for n_proc in sorted({1, cores}):
                rate = run_ours(
                    str(work / "catalog.csv"),
                    str(work / "truth.csv"),
                    work,
                    size=size,
                    scale=scale,
                    n_proc=n_proc,
                    n=args.n,
                )
                results["runs"].append(
                    {
                        "method": "ours",
                        "size": size,
                        "processes": n_proc,
                        "galaxies_per_s": rate,
                        "galaxies_per_s_per_core": rate / n_proc,
                    }
                )
                print(
                    f"{size:4d} px  ours, {n_proc} process(es): {rate:6.1f} galaxies/s "
                    f"({rate / n_proc:.1f} per core; {rate / naive:.2f}x naive per core at 1)",
                    flush=True,
                )
    best = max(
        r["galaxies_per_s_per_core"]
        for r in results["runs"]
        if r["method"] == "ours" and r["size"] == 128
    )
    results["estimate_150k_core_hours_128px"] = 150_000 / best / 3600
    print(
        f"150k galaxies at 128 px: {results['estimate_150k_core_hours_128px']:.2f} core-hours "
        f"({results['estimate_150k_core_hours_128px'] * 60 / 16:.0f} min on 16 cores)"
    )
    files.write_json(results, args.out)


if __name__ == "__main__":
    main()
