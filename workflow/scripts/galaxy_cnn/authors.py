"""Our metric, table and figure code applied to the authors' own test-set predictions.

    python -m galaxy_cnn.authors ../shared/data/wu-boada-2019 results/authors

reads test-predictions-{size}px.csv (objID, oh_p50, prediction) and writes, under the output
folder, metrics.csv, comparison.md and one Fig. 3 per size plus Fig. 4, to compare by eye with
the paper. The mean baseline here is the test-set mean (the authors' training mean is not public).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd

from . import figures, files, paper
from .metrics import metrics_table
from .tables import to_markdown


def read_authors(folder: str | Path) -> dict[int, pd.DataFrame]:
    """{size: DataFrame(objID, true, pred)} from the authors' prediction files."""
    out = {}
    for path in sorted(Path(folder).glob("test-predictions-*px.csv")):
        size = int(re.search(r"(\d+)px", path.name)[1])
        df = pd.read_csv(path, dtype={"objID": "int64"})
        out[size] = df.rename(columns={"oh_p50": "true", "prediction": "pred"})[
            ["objID", "true", "pred"]
        ]
    if not out:
        raise FileNotFoundError(f"no test-predictions-*px.csv in {folder}")
    return out


def render(folder: str | Path, out_dir: str | Path) -> pd.DataFrame:
    out = Path(out_dir)
    preds = read_authors(folder)
    test_mean = float(next(iter(preds.values()))["true"].mean())
    table = metrics_table({("oh_p50", s): df for s, df in preds.items()}, {"oh_p50": test_mean})
    files.write_csv(table, out / "metrics.csv", float_format="%.6f")
    for size, df in preds.items():
        files.write_csv(df, out / f"predictions/oh_p50-{size}px.csv")
        figures.pred_vs_true(
            str(out / f"predictions/oh_p50-{size}px.csv"),
            [str(out / f"pred_vs_true-{size}px.png")],
            size=size,
        )
    figures.metrics_vs_size(
        str(out / "metrics.csv"),
        "oh_p50",
        [str(out / "metrics_vs_size.png")],
        published=paper.SIZES,
    )
    cmp = table[["size", "n", "rmse", "nmad", "bias"]].merge(
        paper.SIZES.rename(columns={"rmse": "paper_rmse", "nmad": "paper_nmad"}), on="size"
    )
    with files.atomic_path(out / "comparison.md") as tmp:
        tmp.write_text(to_markdown(cmp))
    return table


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(render(sys.argv[1], sys.argv[2]).to_string(index=False))
