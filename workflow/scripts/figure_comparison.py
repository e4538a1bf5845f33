"""NMAD against size for two runs of the same galaxies, and their ratio."""

from galaxy_cnn import figures, runlog

runlog.to_file(snakemake.log[0])
figures.run_comparison(snakemake.input[0], tuple(snakemake.params.labels), list(snakemake.output))
