"""Fig. 2: distributions of Z_true and Z_pred."""

from galaxy_cnn import figures, runlog

runlog.to_file(snakemake.log[0])
figures.distributions(snakemake.input[0], list(snakemake.output), size=snakemake.params.size)
