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
# the paper's figures, as results/figures/{name}.png and .pdf
FIGURES = (
    "gallery",
    "distributions",
    "pred_vs_true",
    "metrics_vs_size",
    "stellar_mass",
    "mzr",
    "calibration",
)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(
            "../shared/data is absent (real SDSS data are only on the developers' machines)"
        )
    return SHARED_DATA


def run_snakemake(
    *args: str,
    workdir: Path | None = None,
    check: bool = True,
    timeout: int = 1500,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the real Snakemake on this repository's Snakefile (optionally in another directory)."""
    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), *args]
    if workdir is not None:
        cmd += ["--directory", str(workdir)]
    env = os.environ | {"PYTHONWARNINGS": "ignore"} | (env or {})
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def kill_mid_run(*args: str, workdir: Path, ready, timeout: float = 120) -> None:
    """Start Snakemake with `args` in `workdir` and SIGKILL its whole process group once
    `ready()` is true (or after `timeout` seconds), as a power cut or a killed terminal would."""
    import signal
    import time

    cmd = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


TINY = ROOT / "tests" / "configs" / "tiny.yaml"


@pytest.fixture(scope="session")
def tiny_run_once(tmp_path_factory) -> Path:
    """The tiny synthetic workflow run once per session; tests use copies (`copy_run`)."""
    work = tmp_path_factory.mktemp("tiny-once")
    run_snakemake("--configfile", str(TINY), "--cores", "2", workdir=work)
    return work


def copy_run(src: Path, dest: Path) -> Path:
    """A finished run, outputs and Snakemake's metadata with their times, in another directory."""
    shutil.copytree(src, dest, symlinks=True)
    return dest


def job_counts(output: str) -> dict[str, int]:
    """Snakemake's 'Job stats' table as {rule: count}, without `all` and `total`."""
    if "Job stats:" not in output:
        return {}
    table = output[output.index("Job stats:") :].split("\n\n")[0]
    import re

    jobs = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    return {k: v for k, v in jobs.items() if k not in ("all", "total")}
