"""One row per apply input (image file or position) with its status and the image to predict."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
i, p = snakemake.input, snakemake.params
counts = apply.list_inputs(
    p.kind,
    snakemake.output[0],
    folder=p.images,
    targets_csv=i.get("targets"),
    rejected_csv=i.get("rejected"),
    shard_csvs=list(i.get("shards", [])),
    cutout_folder=p.cutouts,
    max_failed_fraction=p.max_failed_fraction,
)
log.info("%s", counts)
