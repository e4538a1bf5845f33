"""The predicted uncertainties against the test residuals: coverage, pull distribution, spectra."""

from galaxy_cnn import figures, runlog

log = runlog.to_file(snakemake.log[0])
log.info(
    "%s",
    figures.uncertainty_calibration(
        snakemake.input.predictions,
        snakemake.input.catalog,
        list(snakemake.output),
        label=snakemake.params.target,
    ),
)
