"""Send a job's logging, warnings and progress bars to its Snakemake log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def to_file(path: str | None) -> logging.Logger:
    """Redirect stdout/stderr to `path` (appending) and log INFO and above there."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stdout = sys.stderr = stream
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return logging.getLogger("galaxy_cnn")
