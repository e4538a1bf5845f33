# Stage 3: decode every cutout once into one uint8 array (N x size x size x 3).


rule pack:
    input:
        manifest="results/cutouts/manifest.csv",
        manifest_json="results/cutouts/manifest.json",
        excluded="results/excluded.csv",
    output:
        images="results/packed/images.npy",
        index="results/packed/index.csv",
        report="results/packed/report.json",
    log:
        "logs/pack.log",
    benchmark:
        "results/benchmarks/pack.tsv"
    conda:
        "../envs/train.yaml"
    threads: 4
    params:
        folder=lambda w, input: os.path.dirname(input.manifest),
        size=IMAGE["size"],
    script:
        "../workflow/scripts/pack.py"
