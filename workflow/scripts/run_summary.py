"""results/tables/run_summary.csv: what every output was made with, from the outputs' own
metadata."""

from galaxy_cnn import runlog, tables

log = runlog.to_file(snakemake.log[0])
i, p = snakemake.input, snakemake.params
stale = tables.stale_outputs(p.folders, p.current)
if stale:
    log.warning(
        "%d files in results/ were not made by this configuration (listed as 'stale' in %s): %s",
        len(stale),
        snakemake.output[0],
        ", ".join(stale[:10]) + (" ..." if len(stale) > 10 else ""),
    )
tables.run_summary(
    i.catalog,
    manifest_json=i.manifest,
    pack_json=i.pack,
    split_json=i.split,
    model_jsons=list(i.models),
    prediction_jsons=list(i.predictions),
    metrics_csv=i.metrics,
    out_csv=snakemake.output[0],
    stale=stale,
)
