"""Where the galaxies come from. One module per source, each with the same two functions:

    build_catalog(inputs, settings, outputs) -> dict          results/catalog.csv and .json
    cutouts_shard(catalog_csv, inputs, *, shard, n_shards, image, settings, folder,
                  out_manifest) -> DataFrame                  one shard's cutouts and manifest

`inputs` and `outputs` map names to files (the rule's), `settings` holds the source's own config
values (the rule's params) and `image` the cutout size (px) and scale (arcsec/px). The workflow
picks the module once, by the config's `source`; no stage branches on it. Each `cutouts_shard`
hands `cutouts.run_shard` a galaxy's stamp and how to fetch, render or convert its cutout.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

NAMES = ("sdss", "synthetic", "local")


def get_source(name: str) -> ModuleType:
    if name not in NAMES:
        raise ValueError(f"source must be one of {NAMES}, got {name!r}")
    return import_module(f".{name}", __name__)
