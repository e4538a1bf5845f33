"""results/tables/paper_comparison.{csv,md}: ours next to the published numbers."""

from galaxy_cnn import runlog, tables

log = runlog.to_file(snakemake.log[0])
table = tables.paper_comparison(
    snakemake.input.metrics,
    snakemake.input.baselines,
    snakemake.input.predictions,
    snakemake.input.catalog,
    snakemake.params.target,
    snakemake.output.csv,
    snakemake.output.md,
    mass_pred_csv=snakemake.input.get("mass"),
    cv_csv=snakemake.input.get("cv"),
)
log.info("\n%s", table.to_string(index=False))
