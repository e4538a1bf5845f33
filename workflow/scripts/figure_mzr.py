"""Fig. 6: the mass-metallicity relation and the scatter ratio NMAD(CNN)/NMAD(true)."""

from galaxy_cnn import figures, runlog

log = runlog.to_file(snakemake.log[0])
log.info(
    "%s",
    figures.mass_metallicity(
        snakemake.input.predictions,
        snakemake.input.catalog,
        list(snakemake.output),
        truth=snakemake.params.truth,
    ),
)
