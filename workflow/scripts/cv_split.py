"""One cross-validation fold: train = the other folds of train+valid, valid = this fold, test unchanged."""

from galaxy_cnn import runlog, split

runlog.to_file(snakemake.log[0])
split.write_cv_fold(
    snakemake.input[0],
    snakemake.params.folds,
    snakemake.params.seed,
    int(snakemake.wildcards.fold),
    snakemake.output[0],
)
