"""Seeded train/valid/test split."""

from galaxy_cnn import files, runlog, split

runlog.to_file(snakemake.log[0])
cfg = snakemake.config["split"]
table, report = split.make_split(snakemake.input.index, cfg["fractions"], cfg["seed"])
files.write_csv(table, snakemake.output.split)
files.write_json(report, snakemake.output.report)
