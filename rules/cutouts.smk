# Stage 2: one JPEG per galaxy, made in a handful of shards, then one manifest.

if SOURCE == "sdss":

    localrules:
        cutouts_shard,

    rule cutouts_shard:
        input:
            catalog="results/catalog.csv",
        output:
            "results/cutouts/shards/{shard}.csv",
        log:
            "logs/cutouts/{shard}.log",
        conda:
            "../envs/download.yaml"
        resources:
            sdss_api=1,
        params:
            folder=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
            shards=len(SHARDS),
        script:
            "../workflow/scripts/cutouts_sdss.py"

elif SOURCE == "synthetic":

    rule cutouts_shard:
        input:
            catalog="results/catalog.csv",
            truth="results/synthetic/truth.csv",
        output:
            "results/cutouts/shards/{shard}.csv",
        log:
            "logs/cutouts/{shard}.log",
        conda:
            "../envs/simulate.yaml"
        params:
            folder=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
            shards=len(SHARDS),
        script:
            "../workflow/scripts/cutouts_synthetic.py"

else:

    rule cutouts_shard:
        input:
            catalog="results/catalog.csv",
        output:
            "results/cutouts/shards/{shard}.csv",
        log:
            "logs/cutouts/{shard}.log",
        conda:
            "../envs/download.yaml"
        params:
            folder=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
            shards=len(SHARDS),
        script:
            "../workflow/scripts/cutouts_local.py"


rule cutouts_manifest:
    input:
        catalog="results/catalog.csv",
        shards=expand("results/cutouts/shards/{shard}.csv", shard=SHARDS),
    output:
        "results/cutouts/manifest.csv",
    log:
        "logs/cutouts/manifest.log",
    conda:
        "../envs/download.yaml"
    script:
        "../workflow/scripts/cutouts_manifest.py"
