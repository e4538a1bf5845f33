"""Fetch one shard of cutouts from SkyServer."""

from galaxy_cnn import cutouts, runlog

runlog.to_file(snakemake.log[0])
cutouts.fetch_sdss_shard(snakemake.input.catalog, snakemake.params.folder, int(snakemake.wildcards.shard),
                         snakemake.params.shards, snakemake.config, snakemake.output[0])
