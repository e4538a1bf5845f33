# Stage 1: the galaxy catalog, from the source chosen in common.smk (SOURCE).


rule catalog:
    input:
        **SOURCE.catalog_inputs,
    output:
        **SOURCE.catalog_outputs,
    log:
        "logs/catalog.log",
    conda:
        "../envs/data.yaml"
    resources:
        sdss_api=int(SOURCE.network),
    params:
        source=SOURCE.name,
        settings=SOURCE.catalog_settings,
    script:
        "../workflow/scripts/catalog.py"
