# Wu & Boada (2019), MNRAS 484, 4683: galaxy metallicity from SDSS gri images with a ResNet-34.
# Default: the offline synthetic demo. The paper run: --configfile config/config.yaml
# As a module of another Snakefile: docs/module.md


import os
import sys
from importlib.machinery import PathFinder

from snakemake.logging import logger
from snakemake.utils import min_version, validate

min_version("9.0")

# This file's folder, also when another Snakefile uses this one as a module (workflow.basedir is
# then the user's folder). A remote source (github(...)) is no folder here: docs/module.md.
WORKFLOW_ROOT = str(workflow.current_basedir)
LOCAL_SOURCE = os.path.isdir(WORKFLOW_ROOT)
DEMO_CONFIG = (
    os.path.join(WORKFLOW_ROOT, "config", "demo.yaml")
    if LOCAL_SOURCE
    else workflow.source_path("config/demo.yaml")
)

# A remote source: Snakemake fetches only the files that rules name, so the package that the
# scripts import is fetched here, into the cache folder beside the scripts, where they look too.
if LOCAL_SOURCE:
    PACKAGE = os.path.join(WORKFLOW_ROOT, "workflow", "scripts", "galaxy_cnn")
else:
    with open(workflow.source_path("workflow/scripts/galaxy_cnn/FILES.txt")) as f:
        PACKAGE_FILES = [n.strip() for n in f if n.strip() and not n.startswith("#")]
    CACHED = [
        workflow.source_path(f"workflow/scripts/galaxy_cnn/{n}") for n in PACKAGE_FILES
    ]
    PACKAGE = os.path.dirname(CACHED[PACKAGE_FILES.index("__init__.py")])
INSTALLED = PathFinder.find_spec("galaxy_cnn")  # the copy a job's script imports first
if (
    INSTALLED
    and INSTALLED.origin
    and not os.path.samefile(os.path.dirname(INSTALLED.origin), PACKAGE)
):
    logger.warning(
        f"galaxy_cnn is also installed at {os.path.dirname(INSTALLED.origin)}: jobs run "
        f"without --sdm conda import that copy, not this workflow's ({PACKAGE})"
    )
sys.path.insert(0, os.path.dirname(PACKAGE))


# the demo is the default; a --configfile given on the command line replaces it entirely
if not workflow.overwrite_configfiles:

    configfile: DEMO_CONFIG


validate(config, "workflow/schemas/config.schema.yaml")


report: "report/workflow.rst"


# A cluster run never inherits a local one-GPU limit (profiles/default sets gpu=1).
resource_scopes:
    gpu="local",


include: "rules/common.smk"
include: "rules/catalog.smk"
include: "rules/cutouts.smk"
include: "rules/pack.smk"
include: "rules/split.smk"
include: "rules/train.smk"
include: "rules/predict.smk"
include: "rules/cv.smk"
include: "rules/metrics.smk"
include: "rules/figures.smk"
include: "rules/apply.smk"
include: "rules/calibration.smk"


if COMPARE["run"]:  # another run of the same galaxies to compare with

    include: "rules/compare.smk"


rule all:
    default_target: True
    input:
        final_outputs(),
