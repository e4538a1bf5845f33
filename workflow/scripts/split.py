"""Seeded train/valid/test split."""

from galaxy_cnn import runlog, split

runlog.to_file(snakemake.log[0])
split.write_split(
    snakemake.input.index,
    snakemake.params.fractions,
    snakemake.params.seed,
    snakemake.output.split,
    snakemake.output.report,
)
