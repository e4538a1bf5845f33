"""Fig. 1: a gallery of test galaxies, rows a-g, with Z_pred and Z_true."""

from galaxy_cnn import figures, runlog

runlog.to_file(snakemake.log[0])
figures.gallery(
    snakemake.input.predictions,
    snakemake.input.packed,
    snakemake.input.index,
    list(snakemake.output),
    seed=snakemake.params.seed,
)
