# Stage 1: the galaxy catalog, from SkyServer SQL, the synthetic universe, or the user's CSV.

if SOURCE == "sdss":

    localrules:
        catalog,

    rule catalog:
        output:
            catalog="results/catalog.csv",
            meta="results/catalog.json",
        log:
            "logs/catalog.log",
        conda:
            "../envs/download.yaml"
        resources:
            sdss_api=1,
        params:
            pages="results/catalog_pages",
        script:
            "../workflow/scripts/catalog_sdss.py"

elif SOURCE == "synthetic":

    rule catalog:
        output:
            catalog="results/catalog.csv",
            meta="results/catalog.json",
            truth="results/synthetic/truth.csv",
            floor="results/synthetic/floor.json",
        log:
            "logs/catalog.log",
        conda:
            "../envs/simulate.yaml"
        script:
            "../workflow/scripts/catalog_synthetic.py"

else:

    rule catalog:
        input:
            config["local"]["catalog"],
        output:
            catalog="results/catalog.csv",
            meta="results/catalog.json",
        log:
            "logs/catalog.log",
        conda:
            "../envs/download.yaml"
        script:
            "../workflow/scripts/catalog_local.py"
