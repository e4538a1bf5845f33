"""Fig. 5: stellar mass predicted vs true, and Z from the Tremonti MZR at the predicted mass."""

from galaxy_cnn import figures, runlog

log = runlog.to_file(snakemake.log[0])
log.info(
    "%s",
    figures.stellar_mass(
        snakemake.input.mass,
        snakemake.input.catalog,
        snakemake.params.z_column,
        list(snakemake.output),
    ),
)
