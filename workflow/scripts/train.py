"""Train one (target, size) model."""

from galaxy_cnn import runlog, train

runlog.to_file(snakemake.log[0])
i, o, w = snakemake.input, snakemake.output, snakemake.wildcards
train.train_model(
    i.images,
    i.index,
    i.catalog,
    i.split,
    i.pack_report,
    w.target,
    int(w.size),
    o.model,
    o.history,
    o.meta,
    snakemake.params.settings,
    snakemake.threads,
)
