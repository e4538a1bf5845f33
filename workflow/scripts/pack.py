"""Decode every cutout once into one uint8 array."""

from galaxy_cnn import files, images, runlog

runlog.to_file(snakemake.log[0])
report = images.pack_cutouts(snakemake.input.manifest, snakemake.params.folder, snakemake.config["cutouts"]["size"],
                             snakemake.output.images, snakemake.output.index, snakemake.threads)
files.write_json(report, snakemake.output.report)
