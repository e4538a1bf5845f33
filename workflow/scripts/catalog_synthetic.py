"""Draw the synthetic universe's catalog, hidden truth and floor."""

from galaxy_cnn import catalog, runlog

runlog.to_file(snakemake.log[0])
out = snakemake.output
catalog.build_synthetic_catalog(snakemake.config, out.catalog, out.meta, out.truth, out.floor)
