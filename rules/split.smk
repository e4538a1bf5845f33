# Stage 4: one seeded train/valid/test split for every target and size.


rule split:
    input:
        index="results/packed/index.csv",
    output:
        split="results/split.csv",
        report="results/split.json",
    log:
        "logs/split.log",
    conda:
        "../envs/train.yaml"
    params:
        fractions=config["split"]["fractions"],
        seed=config["split"]["seed"],
    script:
        "../workflow/scripts/split.py"
