# The paper's k-fold cross-validation (cv.folds; 0 = off): the main target at the main size,
# trained on k-1 folds of train+valid and scored on the held-out fold; the test split is untouched.


rule cv_split:
    input:
        "results/split.csv",
    output:
        "results/cv/split-fold{fold}.csv",
    log:
        "logs/cv/split-fold{fold}.log",
    conda:
        "../envs/train.yaml"
    params:
        folds=CV_FOLDS,
        seed=config["split"]["seed"],
    script:
        "../workflow/scripts/cv_split.py"


use rule train as train_cv with:
    input:
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        pack_report="results/packed/report.json",
        catalog="results/catalog.csv",
        split="results/cv/split-fold{fold}.csv",
    output:
        model="results/cv/models/{target}-{size}px-fold{fold}.pt",
        history="results/cv/models/{target}-{size}px-fold{fold}.history.csv",
        meta="results/cv/models/{target}-{size}px-fold{fold}.json",
    log:
        "logs/cv/train-{target}-{size}px-fold{fold}.log",
    benchmark:
        "results/benchmarks/cv/{target}-{size}px-fold{fold}.tsv"
    params:
        settings=TRAIN | {"seed": SEEDS[0]},


use rule predict as predict_cv with:
    input:
        model="results/cv/models/{target}-{size}px-fold{fold}.pt",
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        catalog="results/catalog.csv",
        split="results/cv/split-fold{fold}.csv",
    output:
        csv="results/cv/{target}-{size}px-fold{fold}.csv",
        meta="results/cv/{target}-{size}px-fold{fold}.json",
    log:
        "logs/cv/predict-{target}-{size}px-fold{fold}.log",
    benchmark:
        "results/benchmarks/cv/predict-{target}-{size}px-fold{fold}.tsv"
    params:
        split="valid",
        device=config["train"]["device"],
        batch_size=config["predict"]["batch_size"],
        views=config["predict"]["tta_views"],


rule cv_summary:
    input:
        lambda wildcards: expand(
            "results/cv/{target}-{size}px-fold{fold}.csv",
            target=wildcards.target,
            size=wildcards.size,
            fold=range(CV_FOLDS),
        ),
    output:
        "results/cv/{target}-{size}px.csv",
    log:
        "logs/cv/summary-{target}-{size}px.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow/scripts/cv_summary.py"
