# Stage 6: test-set predictions, averaged over the 8 dihedral views.


rule predict:
    input:
        model="results/models/{target}-{size}px.pt",
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        "results/predictions/{target}-{size}px.csv",
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
    script:
        "../workflow/scripts/predict.py"
