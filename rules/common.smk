# Shared by every stage: the config's cross-field checks, the data source (chosen here, once),
# the (target, size) grid and the final outputs. Rules take their settings from the names below,
# through params, so a config change reruns exactly the jobs that use the changed value.

import csv
import os
import sys
from types import SimpleNamespace

import yaml

from galaxy_cnn.checks import (
    apply_entry_problems,
    apply_model_problems,
    compare_run_problems,
    config_problems,
    cutout_service_problems,
    duplicate_key_problems,
    number_problems,
    target_problems,
    user_path_problems,
)
from galaxy_cnn.columns import CATALOG_COLUMNS
from galaxy_cnn.layers import layer_info
from galaxy_cnn.listing import image_folder_digest

with open(workflow.source_path("../workflow/schemas/config.schema.yaml")) as f:
    SCHEMA = yaml.safe_load(f)


def settings(d):
    """A config section as a params value: keys sorted (recursively), so that the same values in
    another order (a rewritten YAML file) do not look like a change to Snakemake."""
    if isinstance(d, dict):
        return {k: settings(d[k]) for k in sorted(d)}
    return d


def config_error(message):
    sys.exit(f"Config error: {message}")


def folder_digest(folder, key):
    """A param that changes when an image in the user's folder is added, removed or replaced."""
    if not os.path.isdir(folder):
        exists = os.path.exists(folder)
        config_error(f"{key}: {folder} is {'not a folder' if exists else 'not there'}")
    return image_folder_digest(folder)


def csv_header(path, key):
    if not os.path.isfile(path):
        exists = os.path.exists(path)
        config_error(f"{key}: {path} is {'not a file' if exists else 'not there'}")
    problem = header = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), None)
    except (UnicodeDecodeError, csv.Error, OSError) as err:
        problem = f"{key}: cannot read {path} as a UTF-8 CSV file ({err})"
    if problem:  # outside the except block: no traceback chained to the message
        config_error(problem)
    if not header:
        config_error(f"{key}: {path} is empty (no header line)")
    return [c.strip() for c in header]


def sql_client_settings(cfg):
    """The SkyServer SQL client's settings: what an apply query needs (not the catalog's row limit)."""
    keys = (
        "url",
        "page_size",
        "min_query_interval",
        "query_timeout",
        "retries",
        "retry_delay",
    )
    return settings({k: cfg["sdss"][k] for k in keys})


CUTOUT_POLITENESS = (
    "concurrency",
    "requests_per_second",
    "retries",
    "retry_delay",
    "timeout",
)


def cutout_client_settings(cfg):
    """The configured cutout service's settings (`cutouts.service`: service, url, its own keys,
    politeness), for the sdss source's cutouts; the only place that looks at the service.
    """
    cut = cfg["cutouts"]
    polite = {k: cut[k] for k in CUTOUT_POLITENESS}
    if cut["service"] == "sdss":  # as before services: SkyServer cutouts are not remade
        return settings({"service": "sdss", "url": cfg["sdss"]["url"]} | polite)
    own = {
        "layer": cut["layer"],
        "bands": cut["bands"] or layer_info(cut["layer"]).bands,
        "format": cut["format"],
    }
    url = cfg["legacysurvey"]["url"]
    return settings({"service": "legacysurvey", "url": url} | own | polite)


def apply_client_settings(cfg):
    """What apply's cutouts need of the config: each service's url (the model's own service,
    layer, bands, size and scale pick the rest) and the politeness."""
    urls = {"sdss": cfg["sdss"]["url"], "legacysurvey": cfg["legacysurvey"]["url"]}
    return settings({"urls": urls} | {k: cfg["cutouts"][k] for k in CUTOUT_POLITENESS})


# what a synthetic survey's cutouts imitate, so that apply fetches real ones like them
SYNTHETIC_SURVEY = {
    "sdss": {"survey": "sdss"},
    "legacysurvey": {
        "survey": "legacysurvey",
        "layer": "ls-dr10",
        "bands": "griz",
        "format": "jpeg",
    },
}


def image_record(cfg, name):
    """What the images are, for the manifest, the pack report and the models: the service that
    cut them (its layer, bands, format) or the source that made them, their size and scale.
    """
    own = {"service": name}
    if name == "synthetic":
        own |= SYNTHETIC_SURVEY[cfg["synthetic"]["survey"]]
    if name == "sdss":
        client = cutout_client_settings(cfg)
        own = {
            k: client[k] for k in ("service", "layer", "bands", "format") if k in client
        }
    cut = cfg["cutouts"]
    return settings(own | {"size": cut["size"], "scale": cut["scale"]})


def source_plan(cfg):
    """What the configured source needs and makes; the only place that looks at `source`."""
    name, cut = cfg["source"], cfg["cutouts"]
    outputs = {
        "catalog": "results/catalog.csv",
        "meta": "results/catalog.json",
        "rejected": "results/catalog_rejected.csv",
    }
    if name == "sdss":
        sdss = cfg["sdss"]
        return SimpleNamespace(
            name=name,
            network=True,  # downloads run on the submitting node, one SkyServer client at a time
            columns=CATALOG_COLUMNS,
            catalog_inputs={},
            catalog_outputs=outputs,
            catalog_settings=settings(sdss | {"pages": "results/catalog_pages"}),
            cutout_inputs={},
            cutout_settings=cutout_client_settings(cfg),
            truth=None,
            floor=None,
            truth_label="SDSS (MPA-JHU)",
            calibrated=False,
        )
    if name == "synthetic":
        syn = cfg["synthetic"]
        return SimpleNamespace(
            name=name,
            network=False,
            columns=CATALOG_COLUMNS,
            catalog_inputs={},
            catalog_outputs=outputs
            | {
                "truth": "results/synthetic/truth.csv",
                "floor": "results/synthetic/floor.json",
            },
            catalog_settings=settings(
                {k: syn[k] for k in ("n_galaxies", "seed", "hidden_scatter")}
            ),
            cutout_inputs={"truth": "results/synthetic/truth.csv"},
            cutout_settings=settings(
                {"seed": syn["seed"], "survey": syn["survey"], "render": syn["render"]}
            ),
            # the synthetic SDSS cutouts are compared with real ones; there are none of the others
            calibrated=syn["survey"] == "sdss",
            truth="results/synthetic/truth.csv",
            floor="results/synthetic/floor.json",
            truth_label="synthetic catalog",
        )
    local = cfg.get("local", {})
    for key in ("catalog", "images"):
        if key not in local:
            config_error(f"source is 'local' but local.{key} is not set")
    for problem in user_path_problems(
        {f"local.{k}": local[k] for k in ("catalog", "images")}
    ):
        config_error(problem)
    return SimpleNamespace(
        name=name,
        network=False,
        columns=csv_header(local["catalog"], "local.catalog"),
        catalog_inputs={"user_catalog": local["catalog"]},
        catalog_outputs=outputs,
        catalog_settings=settings(
            {
                "targets": sorted(cfg["targets"]),
                "on_bad_value": local.get("on_bad_value", "stop"),
                "max_missing_fraction": cut["max_missing_fraction"],
            }
        ),
        cutout_inputs={},
        # normpath: a trailing / is the same folder, not a change that reruns the import
        cutout_settings=settings(
            {
                "images": os.path.normpath(local["images"]),
                "listing": folder_digest(local["images"], "local.images"),
            }
        ),
        truth=None,
        floor=None,
        truth_label="your catalog",
        calibrated=False,
    )


for path in workflow.configfiles:  # before YAML's silent last-one-wins hides a setting
    for problem in duplicate_key_problems(path):
        config_error(problem)
for problem in number_problems(config, SCHEMA):  # before anything computes with them
    config_error(problem)
for problem in target_problems(list(config["targets"])):
    config_error(problem)
# before source_plan reads the service's settings
for problem in cutout_service_problems(config):
    config_error(problem)
SOURCE = source_plan(config)
for problem in config_problems(config, SOURCE.columns):
    config_error(problem)

if SOURCE.network:

    localrules:
        catalog,
        cutouts_shard,


IMAGE = settings(
    {"size": config["cutouts"]["size"], "scale": config["cutouts"]["scale"]}
)
IMAGES = image_record(config, SOURCE.name)
TRAIN = settings({k: v for k, v in config["train"].items() if k != "seeds"})
SEEDS = config["train"]["seeds"]
CV_FOLDS = config["cv"]["folds"]
SHARDS = list(range(config["cutouts"]["shards"]))
MODELS = [(t, s) for t, sizes in config["targets"].items() for s in sizes]
MAIN_TARGET = (
    "oh_p50" if "oh_p50" in config["targets"] else next(iter(config["targets"]))
)
MAIN_SIZE = max(config["targets"][MAIN_TARGET])
MASS_PRED = (
    f"results/predictions/lgm_tot_p50-{max(config['targets']['lgm_tot_p50'])}px.csv"
    if "lgm_tot_p50" in config["targets"] and MAIN_TARGET != "lgm_tot_p50"
    else None
)


wildcard_constraints:
    target=r"[A-Za-z][A-Za-z0-9_]*",
    size=r"\d+",
    name=r"[A-Za-z0-9_.-]+",
    shard=r"\d+",
    seed=r"\d+",
    fold=r"\d+",


def model_files(ext):
    return [f"results/models/{t}-{s}px.{ext}" for t, s in MODELS]


APPLY = config.get("apply", {})
for problem in (
    user_path_problems(
        {
            f"apply.{name}.{key}": entry[key]
            for name, entry in APPLY.items()
            for key in ("positions", "catalog")
            if key in entry
        }
    )
    + apply_model_problems({n: e["model"] for n, e in APPLY.items()}, model_files("pt"))
    + apply_entry_problems(APPLY)
):
    config_error(problem)


COMPARE = config["compare"]
COMPARE_LABELS = [COMPARE["label"], COMPARE["other_label"]]
COMPARED_SIZES = sorted(config["targets"][MAIN_TARGET], reverse=True)


def other_run_file(path):
    """`path` in the run compare.run names (a file of that run's results/)."""
    return os.path.join(os.path.normpath(COMPARE["run"]), path)


if COMPARE["run"]:
    OTHER_MODEL_RECORD = other_run_file(
        f"results/models/{MAIN_TARGET}-{COMPARED_SIZES[0]}px.json"
    )
    for problem in compare_run_problems(COMPARE["run"], IMAGES, OTHER_MODEL_RECORD):
        config_error(problem)


def comparison_files(pattern):
    return [pattern.format(target=MAIN_TARGET, size=s) for s in COMPARED_SIZES]


def member_files(target, size):
    return [f"results/models/{target}-{size}px/seed{seed}.pt" for seed in SEEDS]


def cv_files():
    return [f"results/cv/{MAIN_TARGET}-{MAIN_SIZE}px.csv"] if CV_FOLDS else []


def prediction_files(ext="csv"):
    return [f"results/predictions/{t}-{s}px.{ext}" for t, s in MODELS]


def figure_files():
    figs = [
        "gallery",
        "distributions",
        "pred_vs_true",
        "metrics_vs_size",
        "calibration",
    ]
    if MASS_PRED:
        figs.append("stellar_mass")
    if "lgm_tot_p50" in SOURCE.columns:
        figs.append("mzr")
    if COMPARE["run"]:
        figs.append("comparison")
    return [f"results/figures/{f}.{ext}" for f in figs for ext in ("png", "pdf")]


def table_files():
    return [
        "results/baselines.csv",
        "results/tables/paper_comparison.csv",
        "results/tables/paper_comparison.md",
        "results/tables/run_summary.csv",
    ]


def final_outputs():
    applied = [f"results/applied/{name}.csv" for name in config.get("apply", {})]
    real = config.get("calibration", {}).get("real_images", "")
    if SOURCE.calibrated and real and os.path.isdir(real):
        applied.append("results/calibration/comparison.csv")
    return (
        ["results/metrics.csv"]
        + prediction_files()
        + figure_files()
        + table_files()
        + cv_files()
        + applied
        + (["results/comparison/comparison.csv"] if COMPARE["run"] else [])
    )


# Folders whose files from an earlier configuration the run summary flags as stale.
STALE_CHECKED = [
    "results/models",
    "results/predictions",
    "results/figures",
    "results/tables",
    "results/applied",
    "results/comparison",
]


def current_outputs():
    """This config's outputs in STALE_CHECKED, as files or stems (every file of a model or an
    apply run starts with one)."""
    stems = [
        f"results/{d}/{t}-{s}px" for d in ("models", "predictions") for t, s in MODELS
    ]
    return sorted(
        stems
        + figure_files()
        + table_files()
        + [f"results/applied/{n}" for n in APPLY]
        + (["results/comparison/"] if COMPARE["run"] else [])
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
    if CV_FOLDS:
        inputs["cv"] = cv_files()[0]
    return inputs


def apply_setting(key, default=None):
    return lambda w: config["apply"][w.name].get(key, default)


def apply_declared(wildcards):
    """What an images entry says its cutouts are (service, layer, scale): checked against the
    model's."""
    entry = config["apply"][wildcards.name]
    return {k: entry[k] for k in ("service", "layer", "scale") if k in entry}


def apply_images(wildcards):
    """The apply image folder, normalised: a trailing / is the same folder, not a change."""
    folder = config["apply"][wildcards.name].get("images")
    return os.path.normpath(folder) if folder else None


def apply_kind(name):
    """images, positions or query: the one the schema lets `apply.{name}` have."""
    return next(
        k for k in ("images", "positions", "query") if k in config["apply"][name]
    )


def apply_shards(name):
    return config["apply"][name]["shards"]


def apply_listing(wildcards):
    if apply_kind(wildcards.name) != "images":
        return ""
    return folder_digest(
        config["apply"][wildcards.name]["images"], f"apply.{wildcards.name}.images"
    )


def apply_target_inputs(wildcards):
    entry = config["apply"][wildcards.name]
    return {"positions": entry["positions"]} if "positions" in entry else {}


def apply_input_files(wildcards):
    if apply_kind(wildcards.name) == "images":
        return {}
    base = f"results/applied/{wildcards.name}"
    return {
        "targets": f"{base}/targets.csv",
        "rejected": f"{base}/targets_rejected.csv",
        "shards": [f"{base}/cutouts/shards/{k}.csv" for k in SHARDS],
    }


def apply_merge_inputs(wildcards):
    base = f"results/applied/{wildcards.name}"
    entry = config["apply"][wildcards.name]
    inputs = {
        "inputs": f"{base}/inputs.csv",
        "model": f"{base}/model.json",
        "shards": [
            f"{base}/predictions/{k}.csv" for k in range(apply_shards(wildcards.name))
        ],
    }
    if entry.get("catalog"):
        inputs["catalog"] = entry["catalog"]
    return inputs
