"""Predictions for one shard of apply inputs, streamed in chunks."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
i, p = snakemake.input, snakemake.params
log.info(
    "%s",
    apply.predict_shard(
        i.model,
        i.inputs,
        int(snakemake.wildcards.shard),
        p.shards,
        snakemake.output[0],
        p.device,
        p.views,
        p.batch_size,
        threads=snakemake.threads,
    ),
)
