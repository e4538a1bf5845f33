"""One shard of SkyServer cutouts for apply targets, at the model's cutout size and scale."""

from galaxy_cnn import apply, runlog

runlog.to_file(snakemake.log[0])
p = snakemake.params
apply.fetch_cutouts_shard(
    snakemake.input.targets,
    snakemake.input.model,
    shard=int(snakemake.wildcards.shard),
    n_shards=p.shards,
    settings=p.settings,
    folder=p.folder,
    out_manifest=snakemake.output[0],
)
