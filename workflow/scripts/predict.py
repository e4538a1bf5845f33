"""Predictions with dihedral TTA for one split (the test split, or a held-out cross-validation fold)."""

from galaxy_cnn import runlog, tta

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
tta.predict_split(
    i.model,
    i.images,
    i.index,
    i.catalog,
    i.split,
    p.split,
    o.csv,
    o.meta,
    p.device,
    p.batch_size,
    p.views,
    snakemake.threads,
)
