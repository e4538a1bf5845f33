# Wu & Boada (2019), MNRAS 484, 4683: galaxy metallicity from SDSS gri images with a ResNet-34.
# Default: the offline synthetic demo. The paper run: --configfile config/config.yaml


import os
import sys

from snakemake.utils import min_version, validate

min_version("9.0")
sys.path.insert(0, os.path.join(workflow.basedir, "workflow", "scripts"))


# the demo is the default; a --configfile given on the command line replaces it entirely
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "demo.yaml")


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


rule all:
    default_target: True
    input:
        final_outputs(),
