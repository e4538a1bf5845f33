"""Predictions for one shard of apply inputs, streamed in chunks."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
i, p = snakemake.input, snakemake.params
counts = apply.predict_shard(
    i.model,
    i.inputs,
    shard=int(snakemake.wildcards.shard),
    n_shards=p.shards,
    out_csv=snakemake.output[0],
    device=p.device,
    views=p.views,
    batch_size=p.batch_size,
    threads=snakemake.threads,
)
log.info("%s", counts)
