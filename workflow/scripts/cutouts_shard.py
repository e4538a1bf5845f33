"""Stage 2: one shard of cutouts from the configured source."""

from galaxy_cnn import runlog
from galaxy_cnn.sources import get_source

runlog.to_file(snakemake.log[0])
p = snakemake.params
inputs = {k: v for k, v in snakemake.input.items() if k != "catalog"}
get_source(p.source).cutouts_shard(
    snakemake.input.catalog,
    inputs,
    int(snakemake.wildcards.shard),
    p.shards,
    p.image,
    p.settings,
    p.folder,
    snakemake.output[0],
)
