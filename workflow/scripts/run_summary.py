"""results/tables/run_summary.csv: what every output was made with, read from the outputs' own metadata."""

from galaxy_cnn import runlog, tables

runlog.to_file(snakemake.log[0])
i = snakemake.input
tables.run_summary(i.catalog, i.manifest, i.pack, i.split, list(i.models), list(i.predictions), i.metrics,
                   snakemake.output[0])
