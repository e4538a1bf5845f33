"""Fig. 4: RMSE and NMAD against image size."""

from galaxy_cnn import figures, runlog

runlog.to_file(snakemake.log[0])
figures.metrics_vs_size(snakemake.input[0], snakemake.params.target, list(snakemake.output))
