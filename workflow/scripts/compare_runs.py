"""Two runs of the same galaxies: both runs' NMAD by size, their ratio, and the other run's models
on this run's images."""

from galaxy_cnn import comparison, runlog

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
comparison.compare_runs(
    this=list(i.this),
    other=list(i.other),
    other_model=list(i.other_model),
    other_model_record=i.other_model_record,
    sizes=p.sizes,
    labels=tuple(p.labels),
    other_run=p.other_run,
    images=dict(p.images),
    out_csv=o.table,
    out_md=o.md,
    out_meta=o.meta,
    n_boot=p.n_boot,
    seed=p.seed,
)
