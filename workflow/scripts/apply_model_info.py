"""The model's target, sizes, cutout scale and provenance, for apply's other stages."""

from galaxy_cnn import apply, runlog

runlog.to_file(snakemake.log[0])
apply.model_info(snakemake.input.model, snakemake.output[0])
