"""Join a (target, size)'s seeds into one model and calibrate its uncertainty on the validation split."""

from galaxy_cnn import ensemble, runlog

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
ensemble.make_ensemble(
    list(i.members),
    i.images,
    i.index,
    i.catalog,
    i.split,
    o.model,
    o.meta,
    p.views,
    p.batch_size,
    p.device,
    snakemake.threads,
)
