"""The synthetic universe: a catalog with known truth, and SkyServer-like cutouts rendered offline."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from .. import files
from .. import synthetic as universe
from ..catalog import clean_catalog, read_catalog, write_catalog
from ..cutouts import (
    cutout_stamp,
    is_verified,
    manifest_row,
    shard_rows,
    stamp_jpeg,
    write_manifest,
)

log = logging.getLogger(__name__)
# any change to the universe's code makes every cutout stale
RENDERER_DIGEST = hashlib.sha256(Path(universe.__file__).read_bytes()).hexdigest()[:12]


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
    shard: int,
    n_shards: int,
    image: dict,
    settings: dict,
    folder: str,
    out_manifest: str,
) -> pd.DataFrame:
    """Render one shard; a galaxy's image depends on its row, the seed and the render settings only."""
    size, scale = image["size"], image["scale"]
    render = universe.RenderSettings(**settings.get("render", {}))
    truth = pd.read_csv(inputs["truth"], dtype={"objID": "int64"})
    rows = shard_rows(read_catalog(catalog_csv), shard, n_shards).merge(
        truth, on="objID", how="left"
    )
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    files.remove_stale_parts(out, {f"{int(o)}.jpg" for o in rows["objID"]})
    results = []
    for row in tqdm(
        rows.itertuples(index=False),
        total=len(rows),
        desc=f"render shard {shard}",
        unit="img",
        mininterval=2,
    ):
        path = out / f"{int(row.objID)}.jpg"
        stamp = cutout_stamp(
            source="synthetic",
            seed=settings["seed"],
            render=render.as_dict(),
            size=size,
            scale=scale,
            code=RENDERER_DIGEST,
            galaxy=row._asdict(),
        )
        if not is_verified(path, size, stamp):
            rgb = universe.render_galaxy(
                row, size, scale, universe.galaxy_seed(settings["seed"], row.objID), render
            )
            files.write_bytes(
                path, stamp_jpeg(universe.jpeg_bytes(rgb, render.jpeg_quality), stamp)
            )
        results.append(manifest_row(row.objID, "ok", 1))
    return write_manifest(results, out_manifest)
