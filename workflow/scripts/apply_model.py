"""Predict new galaxies with a trained model (TTA), with the model's provenance beside them."""

import torch
from galaxy_cnn import apply, runlog

log = runlog.to_file(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
info = apply.apply_model(snakemake.input.model, p.images, snakemake.output.csv, p.catalog, p.device, p.views)
log.info("predicted %d galaxies; excluded %d: %s", info["n_predicted"], len(info["excluded"]), info["excluded"])
