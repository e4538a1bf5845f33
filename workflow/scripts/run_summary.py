"""results/tables/run_summary.csv: counts per stage, source, versions, configuration."""

from galaxy_cnn import runlog, tables

runlog.to_file(snakemake.log[0])
i = snakemake.input
tables.run_summary(i.catalog, i.manifest, i.pack, i.split, i.metrics, snakemake.config, snakemake.output[0])
