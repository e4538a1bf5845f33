# Another run of the same galaxies (compare.run): which images carry more information, and the
# other run's models on this run's test images.


rule predict_other_model:
    input:
        model=other_run_file("results/models/{target}-{size}px.pt"),
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        csv="results/comparison/{target}-{size}px-other-model.csv",
        meta="results/comparison/{target}-{size}px-other-model.json",
    log:
        "logs/comparison/{target}-{size}px-other-model.log",
    benchmark:
        "results/benchmarks/comparison/{target}-{size}px-other-model.tsv"
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


rule compare_runs:
    input:
        this=comparison_files("results/predictions/{target}-{size}px.csv"),
        other=[
            other_run_file(p)
            for p in comparison_files("results/predictions/{target}-{size}px.csv")
        ],
        other_model=comparison_files(
            "results/comparison/{target}-{size}px-other-model.csv"
        ),
        other_model_meta=other_run_file(
            f"results/models/{MAIN_TARGET}-{COMPARED_SIZES[0]}px.json"
        ),
    output:
        table=report(
            "results/comparison/comparison.csv",
            caption="../report/comparison.rst",
            category="Comparison",
        ),
        md="results/comparison/comparison.md",
        meta="results/comparison/comparison.json",
        png=report(
            "results/figures/comparison.png",
            caption="../report/comparison.rst",
            category="Comparison",
        ),
        pdf="results/figures/comparison.pdf",
    log:
        "logs/comparison/compare_runs.log",
    conda:
        "../envs/figures.yaml"
    resources:
        mem_mb=4000,
    params:
        sizes=COMPARED_SIZES,
        label=config["compare"]["label"],
        other_label=config["compare"]["other_label"],
        images=IMAGES,
        # the folder above the other run's results/
        other_run=lambda w, input: os.path.dirname(
            os.path.dirname(os.path.dirname(input.other[0]))
        ),
        n_boot=2000,
        seed=config["split"]["seed"],
    script:
        "../workflow/scripts/compare_runs.py"
