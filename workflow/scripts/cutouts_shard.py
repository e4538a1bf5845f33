"""Stage 2: one shard of cutouts from the configured source."""

from galaxy_cnn import runlog
from galaxy_cnn.sources import get_source

runlog.to_file(snakemake.log[0])
p = snakemake.params
get_source(p.source).cutouts_shard(
    snakemake.input.catalog,
    {k: v for k, v in snakemake.input.items() if k != "catalog"},
    shard=int(snakemake.wildcards.shard),
    n_shards=p.shards,
    image=p.image,
    settings=p.settings,
    folder=p.folder,
    out_manifest=snakemake.output[0],
)
