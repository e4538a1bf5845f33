"""Join a (target, size)'s seeds into one model and calibrate its uncertainty on the validation
split."""

from galaxy_cnn import ensemble, runlog

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
ensemble.make_ensemble(
    members=list(i.members),
    images=i.images,
    index=i.index,
    catalog=i.catalog,
    split=i.split,
    out_model=o.model,
    out_meta=o.meta,
    device=p.device,
    batch_size=p.batch_size,
    views=p.views,
    threads=snakemake.threads,
)
