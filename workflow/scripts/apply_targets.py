"""The galaxies to predict, from a positions CSV or a SkyServer query, each checked."""

from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
p = snakemake.params
source = snakemake.input.positions if p.kind == "positions" else p.query
log.info(
    "%s",
    apply.write_targets(
        p.kind, source, p.sdss, snakemake.output.targets, snakemake.output.rejected
    ),
)
