"""Render synthetic cutouts as SkyServer serves them and compare their statistics with real ones."""

from galaxy_cnn import calibration, runlog

log = runlog.to_file(snakemake.log[0])
p = snakemake.params
table = calibration.calibrate(
    catalog=snakemake.input.catalog,
    truth=snakemake.input.truth,
    real=p.real,
    n=p.n,
    seed=p.seed,
    out=p.out,
    render=p.render,
)
log.info("\n%s", table.to_string(index=False))
