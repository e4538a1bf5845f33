"""The synthetic universe: a catalog with known truth, and SkyServer-like or Legacy-Surveys-like
cutouts made offline."""

from __future__ import annotations

import logging

import pandas as pd

from .. import files
from .. import synthetic as universe
from ..catalog import clean_catalog, read_catalog, write_catalog
from ..cutouts import CutoutResult, cutout_stamp, run_shard, shard_rows
from ..images import jpeg_of

log = logging.getLogger(__name__)
# a change to the rendering code (not the population's) makes every cutout stale
RENDERER_DIGEST = universe.RENDER_DIGEST


def build_catalog(inputs: dict, settings: dict, outputs: dict) -> dict:
    """Draw `n_galaxies` with `seed`; write the catalog, the hidden truth and the floor."""
    population = universe.PopulationSettings(hidden_scatter=settings["hidden_scatter"])
    cat, truth, counts = universe.draw_population(
        settings["n_galaxies"], settings["seed"], population
    )
    df, report, rejected = clean_catalog(cat, name="synthetic catalog")
    files.write_csv(truth, outputs["truth"])
    files.write_json(universe.floor_summary(truth, population), outputs["floor"])
    meta = {
        "source": "synthetic",
        "settings": settings,
        "population": vars(population),
        "renderer_digest": RENDERER_DIGEST,
    } | counts
    return write_catalog(df, report, rejected, outputs, meta)


def cutouts_shard(
    catalog_csv: str,
    inputs: dict,
    *,
    shard: int,
    n_shards: int,
    image: dict,
    settings: dict,
    folder: str,
    out_manifest: str,
) -> pd.DataFrame:
    """Render one shard; a galaxy's image depends on its row, the seed and the render settings."""
    size, scale, seed = image["size"], image["scale"], settings["seed"]
    render = universe.render_settings(settings.get("survey", "sdss"), settings.get("render", {}))
    truth = pd.read_csv(inputs["truth"], dtype={"objID": "int64"})
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards)

    def stamp_of(row) -> str:
        return cutout_stamp(
            source="synthetic",
            seed=seed,
            render=render.as_dict(),
            size=size,
            scale=scale,
            code=RENDERER_DIGEST,
            galaxy=row._asdict(),
        )

    def make(row) -> CutoutResult:
        rgb = universe.render_galaxy(
            row, size, scale, universe.galaxy_seed(seed, row.objID), render
        )
        return CutoutResult("ok", 1, None, "", jpeg_of(rgb, render.jpeg_quality))

    return run_shard(
        rows.merge(truth, on="objID", how="left"),
        folder,
        out_manifest=out_manifest,
        size=size,
        stamp_of=stamp_of,
        make=make,
        desc=f"render shard {shard}",
        kept_attempts=1,  # a render is one attempt, made now or kept from a run before
    )
