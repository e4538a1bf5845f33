"""Two runs of the same galaxies: both runs' NMAD by size, their ratio, and the other run's models
on this run's images, as a table and a figure."""

from galaxy_cnn import comparison, figures, files, runlog

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
comparison.compare_runs(
    this=list(i.this),
    other=list(i.other),
    other_model=list(i.other_model),
    sizes=p.sizes,
    labels=(p.label, p.other_label),
    other_run=p.other_run,
    images=dict(p.images),
    other_images=files.read_json(i.other_model_meta)["cutouts"],
    out_csv=o.table,
    out_md=o.md,
    out_meta=o.meta,
    n_boot=p.n_boot,
    seed=p.seed,
)
figures.run_comparison(o.table, (p.label, p.other_label), [o.png, o.pdf])
