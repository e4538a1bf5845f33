"""Merge the shard manifests; stop if too many cutouts are missing."""

from galaxy_cnn import cutouts, runlog

runlog.to_file(snakemake.log[0])
cutouts.merge_manifests(snakemake.input.catalog, list(snakemake.input.shards), snakemake.output[0],
                        snakemake.config["cutouts"]["max_missing_fraction"])
