"""The paper's random-forest baselines on modelMag g, r, i."""

from galaxy_cnn import baselines, runlog

log = runlog.to_file(snakemake.log[0])
table = baselines.random_forest_baselines(
    snakemake.input.catalog,
    snakemake.input.split,
    snakemake.params.target,
    snakemake.output[0],
    n_jobs=snakemake.threads,
)
log.info("\n%s", table.to_string(index=False))
