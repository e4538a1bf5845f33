"""The model's target, sizes, cutouts and provenance, for apply's other stages; images declared
unlike the model's stop here."""

from galaxy_cnn import apply, runlog

runlog.to_file(snakemake.log[0])
apply.model_info(
    snakemake.input.model,
    snakemake.output[0],
    name=snakemake.wildcards.name,
    declared=snakemake.params.declared,
    allow_mismatch=snakemake.params.allow_mismatch,
)
