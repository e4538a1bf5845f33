"""Fig. 6: the mass-metallicity relation."""

from galaxy_cnn import figures, runlog

runlog.to_file(snakemake.log[0])
figures.mass_metallicity(snakemake.input.predictions, snakemake.input.catalog, list(snakemake.output))
