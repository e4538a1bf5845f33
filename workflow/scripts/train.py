"""Train one (target, size) model."""

from galaxy_cnn import runlog, train

runlog.to_file(snakemake.log[0])
i, o, w = snakemake.input, snakemake.output, snakemake.wildcards
train.train_model(
    images=i.images,
    index=i.index,
    catalog=i.catalog,
    split=i.split,
    pack_report=i.pack_report,
    target=w.target,
    size=int(w.size),
    out_model=o.model,
    out_history=o.history,
    out_meta=o.meta,
    settings=snakemake.params.settings,
    threads=snakemake.threads,
)
