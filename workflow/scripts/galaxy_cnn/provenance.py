"""What produced a result: package versions, code revision, machine, time."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "torch",
    "torchvision",
    "fastai",
    "numpy",
    "pandas",
    "galsim",
    "astropy",
    "snakemake",
    "scikit-learn",
)


def git_revision(path: str | Path = ".") -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def collect() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    from . import __version__

    info = {
        "galaxy_cnn": __version__,
        "git": git_revision(Path(__file__).parent),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "time_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": versions,
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info
