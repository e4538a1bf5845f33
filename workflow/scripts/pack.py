"""Decode every cutout once into one uint8 array."""

from galaxy_cnn import images, runlog

runlog.to_file(snakemake.log[0])
i, o = snakemake.input, snakemake.output
images.pack_cutouts(
    i.manifest,
    i.manifest_json,
    i.excluded,
    snakemake.params.folder,
    snakemake.params.size,
    o.images,
    o.index,
    o.report,
    snakemake.threads,
)
