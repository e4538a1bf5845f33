# Shared helpers: the (target, size) grid, shard list, and per-source choices.

import os


def check_config(cfg):
    """Checks the JSON schema cannot express; each error names the config key."""
    size = cfg["cutouts"]["size"]
    for target, sizes in cfg["targets"].items():
        for s in sizes:
            if s > size or size % s:
                raise ValueError(
                    f"targets.{target}: image size {s} px must divide cutouts.size={size} "
                    "(sizes are area-averaged from the full cutouts by an integer factor)"
                )
    if abs(sum(cfg["split"]["fractions"]) - 1) > 1e-6:
        raise ValueError(
            f"split.fractions must sum to 1, got {cfg['split']['fractions']}"
        )
    if cfg["source"] == "sdss" and not 64 <= size <= 2048:
        raise ValueError(
            f"cutouts.size={size}: SkyServer's getjpeg serves 64 to 2048 px only"
        )
    if cfg["source"] == "local":
        for key in ("catalog", "images"):
            if key not in cfg.get("local", {}):
                raise ValueError(f"source is 'local' but local.{key} is not set")


check_config(config)
SOURCE = config["source"]
SHARDS = list(range(config["cutouts"]["shards"]))
MODELS = [(t, s) for t, sizes in config["targets"].items() for s in sizes]
MAIN_TARGET = (
    "oh_p50" if "oh_p50" in config["targets"] else next(iter(config["targets"]))
)
MAIN_SIZE = max(config["targets"][MAIN_TARGET])


wildcard_constraints:
    target=r"[A-Za-z][A-Za-z0-9_]*",
    size=r"\d+",
    name=r"[A-Za-z0-9_.-]+",
    shard=r"\d+",


def prediction_files():
    return [f"results/predictions/{t}-{s}px.csv" for t, s in MODELS]


MASS_PRED = (
    f"results/predictions/lgm_tot_p50-{max(config['targets']['lgm_tot_p50'])}px.csv"
    if "lgm_tot_p50" in config["targets"] and MAIN_TARGET != "lgm_tot_p50"
    else None
)


def figure_files():
    figs = ["gallery", "distributions", "pred_vs_true", "metrics_vs_size"]
    if MASS_PRED:
        figs.append("stellar_mass")
    if "lgm_tot_p50" in _catalog_columns():
        figs.append("mzr")
    return [f"results/figures/{f}.{ext}" for f in figs for ext in ("png", "pdf")]


def table_files():
    return [
        "results/baselines.csv",
        "results/tables/paper_comparison.csv",
        "results/tables/paper_comparison.md",
        "results/tables/run_summary.csv",
    ]


def _catalog_columns():
    # sdss and synthetic catalogs carry stellar mass; a local one may not
    if SOURCE == "local":
        return config["local"].get("columns", []) + list(config["targets"])
    return ["lgm_tot_p50"]


def final_outputs():
    applied = [f"results/applied/{name}.csv" for name in config.get("apply", {})]
    real = config.get("calibration", {}).get("real_images", "")
    if SOURCE == "synthetic" and real and os.path.isdir(real):
        applied.append("results/calibration/comparison.csv")
    return (
        ["results/metrics.csv"]
        + prediction_files()
        + figure_files()
        + table_files()
        + applied
    )


def train_device_resources():
    return 1 if config["train"]["device"] != "cpu" else 0


def comparison_inputs(wildcards):
    inputs = {
        "metrics": "results/metrics.csv",
        "baselines": "results/baselines.csv",
        "predictions": f"results/predictions/{MAIN_TARGET}-{MAIN_SIZE}px.csv",
        "catalog": "results/catalog.csv",
    }
    if MASS_PRED:
        inputs["mass"] = MASS_PRED
    return inputs
