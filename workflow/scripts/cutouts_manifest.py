"""Merge the shard manifests; stop if too many cutouts are missing."""

from galaxy_cnn import cutouts, runlog

runlog.to_file(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
cutouts.merge_manifests(
    i.catalog,
    catalog_json=i.catalog_meta,
    catalog_rejected=i.catalog_rejected,
    shard_csvs=list(i.shards),
    out_csv=o.csv,
    out_json=o.json,
    out_excluded=o.excluded,
    source=p.source,
    image=p.image,
    max_missing_fraction=p.max_missing_fraction,
)
