# Stage 2: one JPEG per galaxy, made in a handful of shards, then one manifest.


rule cutouts_shard:
    input:
        **SOURCE.cutout_inputs,
        catalog="results/catalog.csv",
    output:
        "results/cutouts/shards/{shard}.csv",
    log:
        "logs/cutouts/{shard}.log",
    conda:
        "../envs/data.yaml"
    resources:
        sdss_api=int(SOURCE.network),
    params:
        source=SOURCE.name,
        image=IMAGE,
        settings=SOURCE.cutout_settings,
        shards=len(SHARDS),
        folder=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
    script:
        "../workflow/scripts/cutouts_shard.py"


rule cutouts_manifest:
    input:
        catalog="results/catalog.csv",
        catalog_meta="results/catalog.json",
        catalog_rejected="results/catalog_rejected.csv",
        shards=expand("results/cutouts/shards/{shard}.csv", shard=SHARDS),
    output:
        csv="results/cutouts/manifest.csv",
        json="results/cutouts/manifest.json",
        excluded="results/excluded.csv",
    log:
        "logs/cutouts/manifest.log",
    conda:
        "../envs/data.yaml"
    params:
        source=SOURCE.name,
        image=IMAGES,
        max_missing_fraction=config["cutouts"]["max_missing_fraction"],
    script:
        "../workflow/scripts/cutouts_manifest.py"
