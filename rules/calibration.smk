# Synthetic universe vs real SkyServer cutouts: the same image statistics on both.


rule calibration:
    input:
        catalog="results/catalog.csv",
        truth=SOURCE.truth or [],
    output:
        table=report(
            "results/calibration/comparison.csv",
            caption="../report/calibration.rst",
            category="Synthetic universe",
        ),
        md="results/calibration/comparison.md",
        stats="results/calibration/stats.csv",
        figure=report(
            "results/calibration/calibration.png",
            caption="../report/calibration.rst",
            category="Synthetic universe",
        ),
        gallery=report(
            "results/calibration/gallery.png",
            caption="../report/calibration_gallery.rst",
            category="Synthetic universe",
        ),
    log:
        "logs/calibration.log",
    conda:
        "../envs/data.yaml"
    params:
        real=config["calibration"]["real_images"],
        real_listing=lambda w: folder_digest(
            config["calibration"]["real_images"], "calibration.real_images"
        ),
        n=config["calibration"]["n_synthetic"],
        seed=config["synthetic"]["seed"],
        render=settings(config["synthetic"].get("render", {})),
        out=lambda w, output: os.path.dirname(output.table),
    script:
        "../workflow/scripts/calibration.py"
