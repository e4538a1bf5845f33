"""Send a job's logging, warnings and progress bars to its Snakemake log file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path


def _report_input_errors(kind, value, tb) -> None:
    """Bad input ends the job with its message (log and terminal); other errors with a traceback."""
    from .errors import InputError

    if issubclass(kind, InputError):
        logging.getLogger("galaxy_cnn").error("%s", value)
        print(f"galaxy_cnn: {value}", file=sys.__stderr__, flush=True)
    else:
        sys.__excepthook__(kind, value, tb)


def to_file(path: str | None) -> logging.Logger:
    """Redirect stdout/stderr to `path` (appending) and log INFO and above there."""
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stdout = sys.stderr = stream
    sys.excepthook = _report_input_errors
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return logging.getLogger("galaxy_cnn")
