"""results/applied/{name}.csv, .fits and .json: one row per input, its status, reason and
prediction."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
i, o = snakemake.input, snakemake.output
summary = apply.merge_results(
    i.inputs,
    list(i.shards),
    i.model,
    out_csv=o.csv,
    out_fits=o.fits,
    out_json=o.json,
    catalog_csv=i.get("catalog"),
    views=snakemake.params.views,
)
log.info("%s", summary["by_status"])
