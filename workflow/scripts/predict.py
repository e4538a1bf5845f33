"""Predictions with dihedral TTA for one split (the test split, or a held-out cross-validation
fold)."""

from galaxy_cnn import predict, runlog

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
predict.predict_split(
    model=i.model,
    images=i.images,
    index=i.index,
    catalog=i.catalog,
    split=i.split,
    which=p.split,
    out_csv=o.csv,
    out_meta=o.meta,
    device=p.device,
    batch_size=p.batch_size,
    views=p.views,
    threads=snakemake.threads,
)
