"""RMSE, NMAD, bias and the mean baseline for every (target, size)."""

from galaxy_cnn import metrics, runlog

runlog.to_file(snakemake.log[0])
metrics.write_metrics(
    list(snakemake.input.predictions),
    snakemake.input.catalog,
    snakemake.input.split,
    snakemake.output[0],
)
