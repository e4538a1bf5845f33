"""Download the paper's catalog from SkyServer (keyset-paged SQL)."""

from galaxy_cnn import catalog, runlog

runlog.to_file(snakemake.log[0])
catalog.build_sdss_catalog(snakemake.config, snakemake.output.catalog, snakemake.output.meta, snakemake.params.pages)
