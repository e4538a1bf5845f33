# Stage 6: test-set predictions with their uncertainties, over the 8 dihedral views and the seeds.


rule predict:
    input:
        model="results/models/{target}-{size}px.pt",
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        csv="results/predictions/{target}-{size}px.csv",
        meta="results/predictions/{target}-{size}px.json",
    log:
        "logs/predict/{target}-{size}px.log",
    benchmark:
        "results/benchmarks/predict/{target}-{size}px.tsv"
    conda:
        "../envs/train.yaml"
    threads: 8  # capped at --cores by Snakemake
    resources:
        gpu=train_device_resources(),
        mem_mb=8000,
        runtime=15,
    params:
        split="test",
        device=config["train"]["device"],
        batch_size=config["predict"]["batch_size"],
        views=config["predict"]["tta_views"],
    script:
        "../workflow/scripts/predict.py"
