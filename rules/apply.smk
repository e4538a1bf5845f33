# Applying a trained model to galaxies without spectra: snakemake results/applied/{name}.csv
# (config `apply`). Inputs are an image folder, a positions CSV or a SkyServer query; positions
# and queries get their cutouts first, from the model's own service (on the submitting node),
# with its layer, bands, size and scale; prediction runs
# in shards a cluster can run in parallel, streamed in chunks.


localrules:
    apply_targets,
    apply_cutouts_shard,


rule apply_model_info:
    input:
        model=apply_setting("model"),
    output:
        "results/applied/{name}/model.json",
    log:
        "logs/applied/{name}/model.log",
    conda:
        "../envs/train.yaml"
    params:
        declared=apply_declared,
        allow_mismatch=apply_setting("allow_mismatch", False),
    script:
        "../workflow/scripts/apply_model_info.py"


rule apply_targets:
    input:
        unpack(apply_target_inputs),
    output:
        targets="results/applied/{name}/targets.csv",
        rejected="results/applied/{name}/targets_rejected.csv",
    log:
        "logs/applied/{name}/targets.log",
    conda:
        "../envs/data.yaml"
    resources:
        sdss_api=1,
    params:
        kind=lambda w: apply_kind(w.name),
        query=apply_setting("query"),
        sdss=sql_client_settings(config),
    script:
        "../workflow/scripts/apply_targets.py"


rule apply_cutouts_shard:
    input:
        targets="results/applied/{name}/targets.csv",
        model="results/applied/{name}/model.json",
    output:
        "results/applied/{name}/cutouts/shards/{shard}.csv",
    log:
        "logs/applied/{name}/cutouts-{shard}.log",
    conda:
        "../envs/data.yaml"
    resources:
        sdss_api=1,
    params:
        settings=apply_client_settings(config),
        shards=len(SHARDS),
        folder=lambda w, output: os.path.dirname(os.path.dirname(output[0])),
    script:
        "../workflow/scripts/apply_cutouts_shard.py"


rule apply_inputs:
    input:
        unpack(apply_input_files),
    output:
        "results/applied/{name}/inputs.csv",
    log:
        "logs/applied/{name}/inputs.log",
    conda:
        "../envs/data.yaml"
    params:
        kind=lambda w: apply_kind(w.name),
        images=apply_images,
        listing=apply_listing,
        cutouts=lambda w: f"results/applied/{w.name}/cutouts",
        max_failed_fraction=config["cutouts"]["max_missing_fraction"],
    script:
        "../workflow/scripts/apply_inputs.py"


rule apply_predict_shard:
    input:
        model=apply_setting("model"),
        checked="results/applied/{name}/model.json",  # no shard starts on a model that failed its checks
        inputs="results/applied/{name}/inputs.csv",
    output:
        "results/applied/{name}/predictions/{shard}.csv",
    log:
        "logs/applied/{name}/predict-{shard}.log",
    benchmark:
        "results/benchmarks/applied/{name}-{shard}.tsv"
    conda:
        "../envs/train.yaml"
    threads: 4
    resources:
        gpu=train_device_resources(),
        mem_mb=8000,
        runtime=60,
    params:
        shards=lambda w: apply_shards(w.name),
        device=config["train"]["device"],
        views=config["predict"]["tta_views"],
        batch_size=config["predict"]["batch_size"],
    script:
        "../workflow/scripts/apply_predict_shard.py"


rule apply_merge:
    input:
        unpack(apply_merge_inputs),
    output:
        csv="results/applied/{name}.csv",
        fits="results/applied/{name}.fits",
        json="results/applied/{name}.json",
    log:
        "logs/applied/{name}/merge.log",
    conda:
        "../envs/data.yaml"
    params:
        views=config["predict"]["tta_views"],
    script:
        "../workflow/scripts/apply_merge.py"
