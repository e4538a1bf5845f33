# Stage 7: RMSE, NMAD, bias and the predict-the-training-mean baseline per (target, size).


rule metrics:
    input:
        predictions=prediction_files(),
        catalog="results/catalog.csv",
        split="results/split.csv",
    output:
        "results/metrics.csv",
    log:
        "logs/metrics.log",
    conda:
        "../envs/figures.yaml"
    script:
        "../workflow/scripts/metrics.py"
