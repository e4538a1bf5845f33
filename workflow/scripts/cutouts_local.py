"""Import one shard of the user's own images."""

from galaxy_cnn import cutouts, runlog

runlog.to_file(snakemake.log[0])
cutouts.import_local_shard(snakemake.input.catalog, snakemake.params.folder, int(snakemake.wildcards.shard),
                           snakemake.params.shards, snakemake.config, snakemake.output[0])
