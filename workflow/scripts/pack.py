"""Decode every cutout once into one uint8 array."""

from galaxy_cnn import images, runlog

runlog.to_file(snakemake.log[0])
i, p, o = snakemake.input, snakemake.params, snakemake.output
images.pack_cutouts(
    manifest=i.manifest,
    manifest_json=i.manifest_json,
    excluded=i.excluded,
    folder=p.folder,
    size=p.size,
    images=o.images,
    index=o.index,
    report=o.report,
    workers=snakemake.threads,
)
