"""Render one shard of synthetic cutouts."""

from galaxy_cnn import cutouts, runlog

runlog.to_file(snakemake.log[0])
cutouts.render_synthetic_shard(snakemake.input.catalog, snakemake.input.truth, snakemake.params.folder,
                               int(snakemake.wildcards.shard), snakemake.params.shards, snakemake.config,
                               snakemake.output[0])
