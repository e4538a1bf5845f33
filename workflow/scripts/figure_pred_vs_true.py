"""Fig. 3: Z_pred vs Z_true."""

from galaxy_cnn import figures, runlog

runlog.to_file(snakemake.log[0])
figures.pred_vs_true(snakemake.input[0], list(snakemake.output), size=snakemake.params.size)
