"""Merge the shard manifests; stop if too many cutouts are missing."""

from galaxy_cnn import cutouts, runlog

runlog.to_file(snakemake.log[0])
p = snakemake.params
i, o = snakemake.input, snakemake.output
cutouts.merge_manifests(
    i.catalog,
    i.catalog_meta,
    i.catalog_rejected,
    list(i.shards),
    o.csv,
    o.json,
    o.excluded,
    p.source,
    p.image,
    p.max_missing_fraction,
)
