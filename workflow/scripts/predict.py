"""Test-set predictions with 8-view dihedral TTA."""

from galaxy_cnn import runlog, tta

runlog.to_file(snakemake.log[0])
i, cfg = snakemake.input, snakemake.config
tta.predict_test_split(i.model, i.images, i.index, i.catalog, i.split, snakemake.output[0], cfg["train"]["device"],
                       cfg["predict"]["batch_size"], cfg["predict"]["tta_views"], snakemake.threads)
