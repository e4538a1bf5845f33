# Applying trained models to new galaxies: snakemake results/applied/{name}.csv (config `apply`).


rule apply_model:
    input:
        model=lambda w: config["apply"][w.name]["model"],
    output:
        csv="results/applied/{name}.csv",
        meta="results/applied/{name}.json",
    log:
        "logs/applied/{name}.log",
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=train_device_resources(),
    params:
        images=lambda w: config["apply"][w.name]["images"],
        catalog=lambda w: config["apply"][w.name].get("catalog"),
        device=config["train"]["device"],
        views=config["predict"]["tta_views"],
    script:
        "../workflow/scripts/apply_model.py"
