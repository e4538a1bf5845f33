"""RMSE and NMAD per cross-validation fold, their mean and standard deviation."""

from galaxy_cnn import metrics, runlog

log = runlog.to_file(snakemake.log[0])
log.info(
    "\n%s", metrics.cv_summary(list(snakemake.input), snakemake.output[0]).to_string(index=False)
)
