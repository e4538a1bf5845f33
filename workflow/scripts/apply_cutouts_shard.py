"""One shard of SkyServer cutouts for apply targets, at the model's cutout size and scale."""

from galaxy_cnn import apply, runlog

runlog.to_file(snakemake.log[0])
p = snakemake.params
apply.fetch_cutouts_shard(
    snakemake.input.targets,
    snakemake.input.model,
    int(snakemake.wildcards.shard),
    p.shards,
    p.settings,
    p.folder,
    snakemake.output[0],
)
