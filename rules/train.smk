# Stage 5: one ResNet-34 per (target, image size, seed), then one model per (target, size) that
# joins its seeds and calibrates its uncertainty on the validation split.


rule train:
    input:
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        pack_report="results/packed/report.json",
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        model="results/models/{target}-{size}px/seed{seed}.pt",
        history="results/models/{target}-{size}px/seed{seed}.history.csv",
        meta="results/models/{target}-{size}px/seed{seed}.json",
    log:
        "logs/train/{target}-{size}px-seed{seed}.log",
    benchmark:
        "results/benchmarks/train/{target}-{size}px-seed{seed}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 8  # capped at --cores by Snakemake
    resources:
        gpu=train_device_resources(),
        mem_mb=lambda wildcards, attempt: 16000 * attempt,  # a retry (profiles/slurm) asks for more
        runtime=lambda wildcards, attempt: 60 * attempt,
    params:
        settings=lambda wildcards: TRAIN | {"seed": int(wildcards.seed)},
    script:
        "../workflow/scripts/train.py"


rule ensemble:
    input:
        members=lambda wildcards: member_files(wildcards.target, wildcards.size),
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        model="results/models/{target}-{size}px.pt",
        meta="results/models/{target}-{size}px.json",
    log:
        "logs/ensemble/{target}-{size}px.log",
    conda:
        "../envs/train.yaml"
    threads: 8
    resources:
        gpu=train_device_resources(),
        mem_mb=8000,
        runtime=15,
    params:
        device=config["train"]["device"],
        batch_size=config["predict"]["batch_size"],
        views=config["predict"]["tta_views"],
    script:
        "../workflow/scripts/ensemble.py"
