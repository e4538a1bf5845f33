"""Fig. 4: RMSE and NMAD against image size, the mean baseline, the random forests, the paper."""

import pandas as pd
from galaxy_cnn import figures, files, paper, runlog

runlog.to_file(snakemake.log[0])
published = paper.SIZES if snakemake.params.target == "oh_p50" else None
rf = pd.read_csv(snakemake.input.baselines).dropna(subset=["rmse"])
floor = (
    files.read_json(snakemake.input.floor).get(snakemake.params.target)
    if snakemake.input.floor
    else None
)
figures.metrics_vs_size(
    snakemake.input.metrics,
    snakemake.params.target,
    list(snakemake.output),
    published=published,
    rf=rf if len(rf) else None,
    floor=floor,
)
