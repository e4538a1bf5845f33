# Another run of the same galaxies (compare.run): which images carry more information, and the
# other run's models on this run's test images.


use rule predict as predict_other_model with:
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
        other_model_record=OTHER_MODEL_RECORD,
    output:
        table=report(
            "results/comparison/comparison.csv",
            caption="../report/comparison.rst",
            category="Comparison",
        ),
        md="results/comparison/comparison.md",
        meta="results/comparison/comparison.json",
    log:
        "logs/comparison/compare_runs.log",
    conda:
        "../envs/figures.yaml"
    resources:
        mem_mb=4000,
    params:
        sizes=COMPARED_SIZES,
        labels=COMPARE_LABELS,
        images=IMAGES,
        other_run=COMPARE["run"],
        n_boot=2000,
        seed=config["split"]["seed"],
    script:
        "../workflow/scripts/compare_runs.py"


rule figure_comparison:
    input:
        "results/comparison/comparison.csv",
    output:
        report(
            "results/figures/comparison.png",
            caption="../report/comparison.rst",
            category="Comparison",
        ),
        "results/figures/comparison.pdf",
    log:
        "logs/figures/comparison.log",
    conda:
        "../envs/figures.yaml"
    params:
        labels=COMPARE_LABELS,
    script:
        "../workflow/scripts/figure_comparison.py"
