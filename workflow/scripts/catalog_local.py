"""Validate the user's own catalog."""

from galaxy_cnn import catalog, runlog

runlog.to_file(snakemake.log[0])
catalog.build_local_catalog(snakemake.config, snakemake.output.catalog, snakemake.output.meta)
