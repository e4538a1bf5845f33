"""One cross-validation fold: train = the other folds of train+valid, valid = this fold, test
unchanged."""

from galaxy_cnn import runlog, split

runlog.to_file(snakemake.log[0])
split.write_cv_fold(
    split_csv=snakemake.input[0],
    folds=snakemake.params.folds,
    seed=snakemake.params.seed,
    fold=int(snakemake.wildcards.fold),
    out_csv=snakemake.output[0],
)
