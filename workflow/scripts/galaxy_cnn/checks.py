"""Cross-field checks of the config that a JSON schema cannot express, run before any job.

Standard library only: the Snakefile imports it. Each problem is one message naming the key.
"""

from __future__ import annotations

import json
import math
import os

from .layers import LAYERS, MAX_SIZE, bands_problem

SDSS_CUTOUT_SIZES = (64, 2048)  # getjpeg silently clips width and height to this range
OUTPUT_FOLDERS = (
    "results",
    "logs",
    ".snakemake",
)  # what the workflow writes, in its working directory
NOT_TARGETS = (
    "objID",
    "specObjID",
    "ra",
    "dec",
    "split",
)  # identifiers, positions, the split's own column


def train_problems(train: dict) -> list[str]:
    """Settings that do not apply to the chosen engine (`train.engine`)."""
    engine, problems = train.get("engine", "fastai"), []
    if engine != "fast":
        for key in ("compile", "cuda_graphs"):
            if train.get(key) is not None:
                problems.append(
                    f"train.{key} applies to train.engine: fast only (engine is {engine!r}); "
                    "remove it or set train.engine: fast"
                )
    if train.get("freeze_epochs", 0) > 0:
        if engine == "fast":
            problems.append(
                "train.freeze_epochs: the fast engine has no frozen-body phase; set it to 0 "
                "or use train.engine: fastai"
            )
        elif not train.get("pretrained"):
            problems.append(
                "train.freeze_epochs freezes a pretrained body, but train.pretrained is null; "
                "set train.freeze_epochs to 0 or give a ResNet-34 weights file"
            )
        elif train["freeze_epochs"] > train.get("epochs", 0):
            problems.append(
                f"train.freeze_epochs={train['freeze_epochs']} is more than train.epochs="
                f"{train.get('epochs')}"
            )
    if train.get("compile") and train.get("cuda_graphs"):
        problems.append("train.compile and train.cuda_graphs are alternatives; set one of them")
    return problems


def split_problems(fractions: list[float]) -> list[str]:
    train, valid, test = fractions
    problems = []
    if not math.isclose(sum(fractions), 1, abs_tol=1e-6):
        problems.append(f"split.fractions must sum to 1, got {fractions} (sum {sum(fractions):g})")
    if train <= 0 or test <= 0:
        problems.append(
            f"split.fractions {fractions}: the train and test parts must be > 0 "
            "(only the validation part may be 0)"
        )
    return problems


def number_problems(value, schema: dict, key: str = "") -> list[str]:
    """Numbers the JSON schema lets through: NaN and infinities (every comparison with NaN is false,
    so no minimum or maximum stops them) and whole floats where an integer is wanted (1.0 is an
    integer to JSON Schema, not to Python's range() or numpy)."""
    name = key or "the config"
    if isinstance(value, bool):
        return []
    if isinstance(value, float):
        if not math.isfinite(value):
            return [f"{name} is {value}: give a finite number"]
        types = schema.get("type", [])
        types = [types] if isinstance(types, str) else types
        if "integer" in types and "number" not in types:
            return [f"{name} is {value}: give an integer ({int(value)})"]
        return []
    problems = []
    if isinstance(value, dict):
        for k, v in value.items():
            sub = schema.get("properties", {}).get(k, schema.get("additionalProperties"))
            if isinstance(sub, dict):
                problems += number_problems(v, sub, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            problems += number_problems(v, schema["items"], f"{key}[{i}]")
    return problems


def config_problems(
    cfg: dict, catalog_columns: list[str] | None = None, schema: dict | None = None
) -> list[str]:
    """Every problem of a schema-valid config; `catalog_columns` are the source's, when known."""
    problems = number_problems(cfg, schema) if schema else []
    if problems:  # the checks below compute with these numbers
        return problems
    size = cfg["cutouts"]["size"]
    for target, sizes in cfg["targets"].items():
        for s in sizes:
            if s > size or size % s:
                problems.append(
                    f"targets.{target}: image size {s} px must divide cutouts.size={size} "
                    "(sizes are area-averaged from the full cutouts by an integer factor)"
                )
        if catalog_columns is not None and target not in catalog_columns:
            problems.append(
                f"targets.{target}: the {cfg['source']} catalog has no column {target!r} "
                f"(it has {', '.join(catalog_columns)})"
            )
    problems += split_problems(cfg["split"]["fractions"])
    problems += cutout_service_problems(cfg)
    problems += train_problems(cfg["train"])
    train = cfg["train"]
    if train.get("pretrained") and not os.path.isfile(train["pretrained"]):
        problems.append(
            f"train.pretrained: weights file {train['pretrained']} does not exist (download "
            "torchvision's resnet34-b627a593.pth where there is internet, or set it to null)"
        )
    if cfg["source"] == "synthetic":
        n = cfg["synthetic"]["n_galaxies"]
        n_train, _, n_test = (int(round(n * f)) for f in cfg["split"]["fractions"])
        if n_train < train["batch_size"]:
            problems.append(
                f"synthetic.n_galaxies={n} gives about {n_train} training galaxies, fewer than "
                f"train.batch_size={train['batch_size']}"
            )
        if n_test < 1:
            problems.append(
                f"split.fractions {cfg['split']['fractions']} leave no test galaxy of "
                f"synthetic.n_galaxies={n}"
            )
    if cfg.get("cv", {}).get("folds") == 1:
        problems.append("cv.folds=1 leaves nothing to train on: 0 (off) or at least 2")
    if catalog_columns is not None and "objID" not in catalog_columns:
        problems.append(
            f"the {cfg['source']} catalog has no objID column (it has {', '.join(catalog_columns)})"
        )
    return problems


def duplicate_key_problems(path: str) -> list[str]:
    """Keys given twice in one mapping of a YAML config file: PyYAML silently keeps the last value,
    so the run would use a setting the user may not be looking at. A file this loader cannot read
    (JSON with tabs, Python tags) gives no problem here: Snakemake has already read it."""
    import yaml  # comes with Snakemake

    problems: list[tuple[int, str]] = []

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        first_line: dict = {}
        for key_node, _ in node.value:
            if (
                key_node.tag == "tag:yaml.org,2002:merge"
            ):  # `<<: *defaults` may appear more than once
                continue
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                seen = first_line.get(key)
            except TypeError:  # an unhashable key (a list): YAML cannot repeat it meaningfully
                continue
            if seen is not None:
                problems.append(
                    (
                        line,
                        f"{path}, line {line}: key '{key}' is given twice (first on line "
                        f"{seen}); YAML would silently keep only the last",
                    )
                )
            else:
                first_line[key] = line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=True)

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        with open(path, encoding="utf-8") as f:
            yaml.load(f, Loader=Loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError:
        return []
    return [message for _, message in sorted(problems)]


def _inside(path: str, folder: str) -> bool:
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return real == root or real.startswith(root + os.sep)


def user_path_problems(paths: dict[str, str], workdir: str = ".") -> list[str]:
    """The user's files (`paths`, by config key) inside a folder the workflow writes: a run would
    write over them, or read its own outputs as the user's input."""
    problems = []
    for key, path in paths.items():
        for folder in OUTPUT_FOLDERS:
            if _inside(os.path.join(workdir, path), os.path.join(workdir, folder)):
                problems.append(
                    f"{key}: {path} is inside {folder}/, where the workflow writes its own files; "
                    f"move it elsewhere (for example data/) and set {key} to the new path"
                )
    return problems


def apply_model_problems(models: dict[str, str], made: list[str], workdir: str = ".") -> list[str]:
    """An apply model inside results/ must be one this config makes (and Snakemake keeps up to
    date): any other file there is left from an earlier configuration, or names a model no config
    trains."""
    problems = []
    made_real = {os.path.realpath(os.path.join(workdir, m)) for m in made}
    for name, path in models.items():
        key = f"apply.{name}.model"
        if _inside(os.path.join(workdir, path), os.path.join(workdir, "results")):
            if os.path.realpath(os.path.join(workdir, path)) not in made_real:
                trains = ", ".join(made) or "none"
                problems.append(
                    f"{key}: {path} is not a model this config trains (it trains {trains}); a "
                    "file there is left from an earlier run with another config. Copy a model you "
                    f"mean to keep out of results/ (for example to models/) and set {key} to that "
                    "path"
                )
        elif not os.path.isfile(os.path.join(workdir, path)):
            problems.append(f"{key}: {path} is not a file")
    return problems


def grid_problems(images: dict, other_images: dict) -> list[str]:
    """Two runs' cutouts differ in size or scale, so that '16 px' would not mean the same."""
    if all(math.isclose(images[k], other_images[k], rel_tol=1e-6) for k in ("size", "scale")):
        return []

    def grid(d: dict) -> str:
        return f'{d["size"]} px of {d["scale"]:g}"/px'

    return [
        f"compare.run: the other run's cutouts are {grid(other_images)}, this run's "
        f"{grid(images)}: compare runs cut on the same grid"
    ]


def model_grid_problems(images: dict, model_record: str) -> list[str]:
    """The grid of the cutouts a model file's record names differs from `images`'."""
    with open(model_record) as f:
        other_images = json.load(f).get("cutouts")
    if not other_images:
        return [f"compare.run: {model_record} records no cutouts; rerun that run to remake it"]
    return grid_problems(images, other_images)


def compare_run_problems(run: str, images: dict, model_record: str) -> list[str]:
    """The run compare.run names holds results/ and, once its model is made, the same grid."""
    if not os.path.isdir(os.path.join(run, "results")):
        return [
            f"compare.run: {run} holds no results/ folder; give the working directory of a "
            "finished run of the same galaxies"
        ]
    return model_grid_problems(images, model_record) if os.path.isfile(model_record) else []


def target_problems(targets: list[str]) -> list[str]:
    return [
        f"targets.{t}: {t} is an identifier, position or the split's column, not a quantity to "
        "predict"
        for t in targets
        if t in NOT_TARGETS
    ]


def cutout_service_problems(cfg: dict) -> list[str]:
    """`cutouts.service` and its keys: a service only for a source that fetches at positions, a
    known layer, bands it has, a size the service serves. `cutouts.layer` is the viewer's only
    (sdss ignores it: it has a default); bands and FITS, which sdss cannot give, are refused."""
    cut, source = cfg["cutouts"], cfg["source"]
    service, size = cut.get("service", "sdss"), cut["size"]
    if service != "sdss" and source != "sdss":
        return [
            f"cutouts.service: {service} fetches cutouts at the catalog's positions, but source "
            f"{source} brings its own images; set source: sdss, or remove cutouts.service"
        ]
    if service == "sdss":
        lo, hi = SDSS_CUTOUT_SIZES
        problems = [
            f"cutouts.{key} applies to cutouts.service: legacysurvey only (SkyServer's getjpeg "
            "serves gri JPEGs); remove it"
            for key, unset in (("bands", None), ("format", "jpeg"))
            if cut.get(key, unset) != unset
        ]
        if source == "sdss" and not lo <= size <= hi:
            problems.append(f"cutouts.size={size}: SkyServer's getjpeg serves {lo} to {hi} px only")
        return problems
    layer = cut.get("layer", "ls-dr10")
    if layer not in LAYERS:
        return [
            f"cutouts.layer: unknown Legacy Surveys layer {layer!r}; known are {', '.join(LAYERS)}"
        ]
    problems = []
    if size > MAX_SIZE:
        problems.append(f"cutouts.size={size}: the viewer serves at most {MAX_SIZE} px")
    if cut.get("bands") is not None and (problem := bands_problem(layer, cut["bands"])):
        problems.append(f"cutouts.bands: {problem}")
    return problems


def apply_entry_problems(apply: dict) -> list[str]:
    """What an apply entry declares of its images (service, layer, scale) is for a folder of
    images only: positions and queries are fetched as the model's own cutouts were."""
    problems = []
    for name, entry in apply.items():
        declared = [k for k in ("service", "layer", "scale") if k in entry]
        if declared and "images" not in entry:
            problems.append(
                f"apply.{name}.{declared[0]}: describes a folder of images; positions and "
                "queries get their cutouts from the model's own service, layer and scale"
            )
        layer = entry.get("layer")
        if layer is not None and entry.get("service") != "legacysurvey":
            problems.append(f"apply.{name}.layer: a layer needs service: legacysurvey")
        elif layer is not None and layer not in LAYERS:
            problems.append(
                f"apply.{name}.layer: unknown Legacy Surveys layer {layer!r}; known are "
                f"{', '.join(LAYERS)}"
            )
    return problems
