# Stage 5: one ResNet-34 per (target, image size).


rule train:
    input:
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        model="results/models/{target}-{size}px.pt",
        history="results/models/{target}-{size}px.history.csv",
    log:
        "logs/train/{target}-{size}px.log",
    benchmark:
        "results/benchmarks/train/{target}-{size}px.tsv"
    conda:
        "../envs/train.yaml"
    threads: 8  # capped at --cores by Snakemake
    resources:
        gpu=train_device_resources(),
        mem_mb=16000,
        runtime=60,
    script:
        "../workflow/scripts/train.py"
