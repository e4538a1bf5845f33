"""Shared fixtures: the library on sys.path, the repository root, the real data when present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
SHARED_DATA = ROOT.parent / "shared" / "data"
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent (real SDSS data are only on the developers' machines)")
    return SHARED_DATA


def run_snakemake(*args: str, workdir: Path | None = None, check: bool = True, timeout: int = 1500) -> subprocess.CompletedProcess:
    """Run the real Snakemake on this repository's Snakefile (optionally in another directory)."""
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), *args]
    if workdir is not None:
        cmd += ["--directory", str(workdir)]
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc
