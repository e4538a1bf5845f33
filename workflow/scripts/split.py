"""Seeded train/valid/test split."""

from galaxy_cnn import runlog, split

runlog.to_file(snakemake.log[0])
split.write_split(
    snakemake.input.index,
    fractions=snakemake.params.fractions,
    seed=snakemake.params.seed,
    out_csv=snakemake.output.split,
    out_json=snakemake.output.report,
)
