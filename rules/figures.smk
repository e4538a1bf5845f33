# Stage 8: the paper's figures, each its own rule, rebuildable by naming its file.


rule figure_pred_vs_true:
    input:
        f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
    output:
        report(
            "results/figures/pred_vs_true.png",
            caption="../report/pred_vs_true.rst",
            category="Figures",
        ),
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
        metrics="results/metrics.csv",
        baselines="results/baselines.csv",
        floor=SOURCE.floor or [],
    output:
        report(
            "results/figures/metrics_vs_size.png",
            caption="../report/metrics_vs_size.rst",
            category="Figures",
        ),
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
        report(
            "results/figures/mzr.png",
            caption="../report/mzr.rst",
            category="Figures",
        ),
        "results/figures/mzr.pdf",
    log:
        "logs/figures/mzr.log",
    conda:
        "../envs/figures.yaml"
    params:
        truth=SOURCE.truth_label,
    script:
        "../workflow/scripts/figure_mzr.py"


rule figure_gallery:
    input:
        predictions=f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
        packed="results/packed/images.npy",
        index="results/packed/index.csv",
    output:
        report(
            "results/figures/gallery.png",
            caption="../report/gallery.rst",
            category="Figures",
        ),
        "results/figures/gallery.pdf",
    log:
        "logs/figures/gallery.log",
    conda:
        "../envs/figures.yaml"
    params:
        seed=config["split"]["seed"],
    script:
        "../workflow/scripts/figure_gallery.py"


rule figure_distributions:
    input:
        f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
    output:
        report(
            "results/figures/distributions.png",
            caption="../report/distributions.rst",
            category="Figures",
        ),
        "results/figures/distributions.pdf",
    log:
        "logs/figures/distributions.log",
    conda:
        "../envs/figures.yaml"
    params:
        size=MAIN_SIZE,
    script:
        "../workflow/scripts/figure_distributions.py"


if MASS_PRED:

    rule figure_stellar_mass:
        input:
            mass=MASS_PRED,
            catalog="results/catalog.csv",
        output:
            report(
                "results/figures/stellar_mass.png",
                caption="../report/stellar_mass.rst",
                category="Figures",
            ),
            "results/figures/stellar_mass.pdf",
        log:
            "logs/figures/stellar_mass.log",
        conda:
            "../envs/figures.yaml"
        params:
            z_column=MAIN_TARGET,
        script:
            "../workflow/scripts/figure_stellar_mass.py"


rule figure_calibration:
    input:
        predictions=f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
        catalog="results/catalog.csv",
    output:
        report(
            "results/figures/calibration.png",
            caption="../report/uncertainty_calibration.rst",
            category="Figures",
        ),
        "results/figures/calibration.pdf",
    log:
        "logs/figures/calibration.log",
    conda:
        "../envs/figures.yaml"
    params:
        target=MAIN_TARGET,
    script:
        "../workflow/scripts/figure_calibration.py"
