"""results/applied/{name}.csv, .fits and .json: one row per input, with status, reason and prediction."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
i, o = snakemake.input, snakemake.output
log.info(
    "%s",
    apply.merge_results(
        i.inputs,
        list(i.shards),
        i.model,
        o.csv,
        o.fits,
        o.json,
        i.get("catalog"),
        snakemake.params.views,
    )["by_status"],
)
