"""Render synthetic cutouts as SkyServer serves them and compare their statistics with real ones."""

from galaxy_cnn import calibration, runlog

log = runlog.to_file(snakemake.log[0])
p = snakemake.params
table = calibration.calibrate(
    snakemake.input.catalog, snakemake.input.truth, p.real, p.n, p.seed, p.out, p.render
)
log.info("\n%s", table.to_string(index=False))
