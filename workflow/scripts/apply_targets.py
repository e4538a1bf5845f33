"""The galaxies to predict, from a positions CSV or a SkyServer query, each checked."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
p = snakemake.params
counts = apply.write_targets(
    p.kind,
    snakemake.input.positions if p.kind == "positions" else p.query,
    sdss=p.sdss,
    out_targets=snakemake.output.targets,
    out_rejected=snakemake.output.rejected,
)
log.info("%s", counts)
