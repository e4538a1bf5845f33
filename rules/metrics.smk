# Stage 7: RMSE, NMAD, bias and the predict-the-training-mean baseline per (target, size).


rule metrics:
    input:
        predictions=prediction_files(),
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        report(
            "results/metrics.csv", caption="../report/metrics.rst", category="Tables"
        ),
    log:
        "logs/metrics.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow/scripts/metrics.py"


rule random_forest_baselines:
    input:
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        "results/baselines.csv",
    log:
        "logs/baselines.log",
    conda:
        "../envs/figures.yaml"
    threads: 2
    params:
        target=MAIN_TARGET,
    script:
        "../workflow/scripts/baselines.py"


rule paper_comparison:
    input:
        unpack(comparison_inputs),
    output:
        csv=report(
            "results/tables/paper_comparison.csv",
            caption="../report/paper_comparison.rst",
            category="Tables",
        ),
        md="results/tables/paper_comparison.md",
    log:
        "logs/paper_comparison.log",
    conda:
        "../envs/figures.yaml"
    params:
        target=MAIN_TARGET,
    script:
        "../workflow/scripts/paper_comparison.py"


rule run_summary:
    input:
        catalog="results/catalog.json",
        manifest="results/cutouts/manifest.json",
        pack="results/packed/report.json",
        split="results/split.json",
        models=model_files("json"),
        predictions=prediction_files("json"),
        metrics="results/metrics.csv",
    output:
        report(
            "results/tables/run_summary.csv",
            caption="../report/run_summary.rst",
            category="Tables",
        ),
    log:
        "logs/run_summary.log",
    conda:
        "../envs/figures.yaml"
    params:
        folders=STALE_CHECKED,
        current=current_outputs(),
    script:
        "../workflow/scripts/run_summary.py"
