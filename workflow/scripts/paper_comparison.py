"""results/tables/paper_comparison.{csv,md}: ours next to the published numbers."""

from galaxy_cnn import runlog, tables

log = runlog.to_file(snakemake.log[0])
i, o = snakemake.input, snakemake.output
table = tables.paper_comparison(
    i.metrics,
    baselines_csv=i.baselines,
    z_pred_csv=i.predictions,
    catalog_csv=i.catalog,
    target=snakemake.params.target,
    out_csv=o.csv,
    out_md=o.md,
    mass_pred_csv=i.get("mass"),
    cv_csv=i.get("cv"),
)
log.info("\n%s", table.to_string(index=False))
