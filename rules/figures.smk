# Stage 8: the paper's figures, each its own rule, rebuildable by naming its file.


rule figure_pred_vs_true:
    input:
        f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
    output:
        "results/figures/pred_vs_true.png",
        "results/figures/pred_vs_true.pdf",
    log:
        "logs/figures/pred_vs_true.log",
    conda:
        "../envs/figures.yaml"
    params:
        size=MAIN_SIZE,
    script:
        "../workflow/scripts/figure_pred_vs_true.py"


rule figure_metrics_vs_size:
    input:
        "results/metrics.csv",
    output:
        "results/figures/metrics_vs_size.png",
        "results/figures/metrics_vs_size.pdf",
    log:
        "logs/figures/metrics_vs_size.log",
    conda:
        "../envs/figures.yaml"
    params:
        target=MAIN_TARGET,
    script:
        "../workflow/scripts/figure_metrics_vs_size.py"


rule figure_mzr:
    input:
        predictions=f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
        catalog="results/catalog.csv",
    output:
        "results/figures/mzr.png",
        "results/figures/mzr.pdf",
    log:
        "logs/figures/mzr.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow/scripts/figure_mzr.py"
