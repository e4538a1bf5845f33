"""Stage 1: the galaxy catalog from the configured source."""

from galaxy_cnn import runlog
from galaxy_cnn.sources import get_source

runlog.to_file(snakemake.log[0])
get_source(snakemake.params.source).build_catalog(
    inputs=dict(snakemake.input),
    settings=snakemake.params.settings,
    outputs=dict(snakemake.output),
)
