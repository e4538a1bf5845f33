"""A fake SLURM for tests: put ``BIN_DIR`` first on PATH and run ``snakemake --executor slurm``.

Usage from a test (``tests/`` is on sys.path when pytest runs, so ``import fake_slurm`` works)::

    from fake_slurm import FAST_POLL_ARGS, fake_slurm, max_concurrency, submissions

    def test_x(tmp_path):
        state = tmp_path / "slurm"
        with fake_slurm(state) as env:          # env: os.environ + PATH/FAKE_SLURM_DIR, no SLURM_*
            subprocess.run([SNAKEMAKE, "--executor", "slurm", *FAST_POLL_ARGS, ...], env=env)
        jobs = submissions(state)               # one dict per job, in submission order
        assert all(j["gpu_count"] == 1 for j in jobs if j["rule"] == "train")
        assert max_concurrency(jobs) <= 4
        assert "download" not in {j["rule"] for j in jobs}

Each job record (a dict) has, among others:

* ``rule``, ``wildcards``: parsed from ``--comment rule_<rule>[_wildcards_<w1_w2>]``, which is how
  the plugin labels its jobs; ``target_jobs``: the ``--target-jobs`` of the wrapped snakemake call
  (``["rule:wc=value,..."]``); ``name``: ``--job-name`` (the plugin's run UUID, same for all jobs
  of one snakemake run); ``comment``.
* ``argv``: the full sbatch argv; ``options``: ``[[long_option, value], ...]`` as parsed (including
  ``#SBATCH`` lines); ``script``: the batch script (``--wrap`` becomes ``#!/bin/sh`` + command).
* resources: ``partition``, ``account``, ``time_limit`` (raw ``-t``), ``time_limit_minutes``,
  ``mem`` / ``mem_mb`` (``--mem``), ``mem_per_cpu`` / ``mem_per_cpu_mb``, ``mem_total_mb``,
  ``cpus_per_task``, ``cpus_per_gpu``, ``ntasks``, ``nodes``, ``alloc_cpus``, ``gres`` (raw
  ``--gres``), ``gpus`` (raw ``--gpus``), ``gpu_count`` (GPUs from --gpus/--gres/--gpus-per-*),
  ``constraint``, ``qos``, ``output`` (raw ``--output``), ``output_path`` (expanded), ``workdir``.
* run: ``state`` (PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ``CANCELLED by <uid>``,
  NODE_FAIL), ``exit_code``, ``signal``, ``submit_time``, ``start_time``, ``end_time`` (epoch
  floats), ``steps`` (one dict per ``srun`` inside the job: ``command``, ``cpus_per_task``, ``gpus``,
  ``exit_code``...), ``job_id`` (``"1001"`` or ``"1001_3"`` for array tasks), ``job_id_raw``.

The cluster is described by ``config.json`` in the state directory (written by ``write_config``):
partitions with limits (sbatch rejects requests no node of the partition could satisfy, like a
cluster with EnforcePartLimits=ALL does), the user's accounts (checked by sbatch and reported by
``sacctmgr``/``sshare``, which the plugin uses to validate ``slurm_account``), ``max_running``
(a cap on jobs RUNNING at once), ``seconds_per_minute`` (shrinks ``--time`` to test TIMEOUT).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN_DIR = HERE / "bin"

# Command-line options that make the slurm executor plugin poll every second instead of after 40 s
# (+10 s per round without a finished job): pass them to snakemake together with --executor slurm.
FAST_POLL_ARGS: tuple[str, ...] = (
    "--slurm-init-seconds-before-status-checks", "1",
    "--seconds-between-status-checks", "1",
    "--max-status-checks-per-second", "10",
    "--latency-wait", "5",
)

DEFAULT_PARTITIONS: dict[str, dict] = {
    "cpu": {"default": True, "cpus": 64, "mem_mb": 256_000, "gpus": 0, "max_time": 24 * 60},
    "gpu": {"cpus": 32, "mem_mb": 512_000, "gpus": 4, "max_time": 48 * 60},
}
DEFAULT_ACCOUNTS: tuple[str, ...] = ("test",)
_UNSET = object()


def write_config(
    state_dir: str | os.PathLike,
    *,
    partitions: Mapping[str, Mapping] | None = _UNSET,  # type: ignore[assignment]
    accounts: Iterable[str] | None = _UNSET,  # type: ignore[assignment]
    max_running: int | None = None,
    seconds_per_minute: float = 60,
    **extra,
) -> Path:
    """Describe the fake cluster. ``partitions=None`` / ``accounts=None`` accept anything.

    ``partitions`` maps a name to limits: ``default`` (bool), ``cpus``, ``mem_mb``, ``gpus`` (per
    node), ``max_time`` / ``default_time`` (minutes), ``max_nodes``, ``nodes``. Defaults:
    ``DEFAULT_PARTITIONS`` (``cpu``, the default, without GPUs; ``gpu`` with 4) and
    ``DEFAULT_ACCOUNTS`` (``test``). ``extra`` may set ``kill_wait``, ``min_job_age``,
    ``max_array_size``, ``first_job_id``, ``node_name``, ``cluster_name``.
    """
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    if partitions is _UNSET:
        partitions = DEFAULT_PARTITIONS
    if accounts is _UNSET:
        accounts = DEFAULT_ACCOUNTS
    cfg = {
        "partitions": None if partitions is None else {k: dict(v) for k, v in partitions.items()},
        "accounts": None if accounts is None else list(accounts),
        "max_running": max_running,
        "seconds_per_minute": seconds_per_minute,
        **extra,
    }
    path = state / "config.json"
    path.write_text(json.dumps(cfg, indent=1))
    return path


def slurm_env(
    state_dir: str | os.PathLike,
    base_env: Mapping[str, str] | None = None,
    **config,
) -> dict[str, str]:
    """Write the cluster config (see ``write_config``) and return an environment for subprocesses.

    The result is ``base_env`` (default ``os.environ``) without any SLURM_*/SBATCH_*/SRUN_*
    variables, with ``BIN_DIR`` first on PATH and ``FAKE_SLURM_DIR`` pointing at ``state_dir``.
    """
    state = Path(state_dir).resolve()
    write_config(state, **config)
    env = {k: v for k, v in (os.environ if base_env is None else base_env).items()
           if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env["PATH"] = os.pathsep.join([str(BIN_DIR), env.get("PATH", os.defpath)])
    env["FAKE_SLURM_DIR"] = str(state)
    return env


@contextlib.contextmanager
def fake_slurm(state_dir: str | os.PathLike, **config) -> Iterator[dict[str, str]]:
    """``slurm_env`` as a context: on exit, jobs still pending or running are killed."""
    env = slurm_env(state_dir, **config)
    try:
        yield env
    finally:
        cancel_all(state_dir)


def submissions(state_dir: str | os.PathLike) -> list[dict]:
    """All job records (one per job, one per task of a job array), in submission order."""
    jobs_dir = Path(state_dir) / "jobs"
    records = []
    for path in jobs_dir.glob("*.json") if jobs_dir.is_dir() else []:
        with contextlib.suppress(json.JSONDecodeError, FileNotFoundError):
            records.append(json.loads(path.read_text()))
    records.sort(key=lambda r: r["job_id_raw"])
    return records


def by_rule(records: Iterable[dict]) -> dict[str | None, list[dict]]:
    """Group job records by the Snakemake rule they ran (None: not submitted by the plugin)."""
    out: dict[str | None, list[dict]] = {}
    for rec in records:
        out.setdefault(rec.get("rule"), []).append(rec)
    return out


def intervals(records: Iterable[dict]) -> list[tuple[float, float]]:
    """(start, end) of every job that started; a running job ends now."""
    now = time.time()
    return [(r["start_time"], r.get("end_time") or now) for r in records if r.get("start_time")]


def max_concurrency(records: Iterable[dict]) -> int:
    """The largest number of jobs that were RUNNING at the same moment."""
    events = []
    for start, end in intervals(records):
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    best = cur = 0
    for _t, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def wait_idle(state_dir: str | os.PathLike, timeout: float = 30) -> bool:
    """Wait until no job is PENDING or RUNNING; True if that happened within ``timeout``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not any(r["state"] in ("PENDING", "RUNNING") for r in submissions(state_dir)):
            return True
        time.sleep(0.2)
    return False


def cancel_all(state_dir: str | os.PathLike, timeout: float = 10) -> None:
    """``scancel`` whatever is still pending or running, SIGKILL stragglers (test teardown)."""
    from . import slurmsim

    state = Path(state_dir)
    if not (state / "jobs").is_dir():
        return
    for rec in submissions(state):
        if rec["state"] in ("PENDING", "RUNNING"):
            with contextlib.suppress(Exception):
                slurmsim.cancel_record(state, rec)
    if wait_idle(state, timeout):
        return
    for rec in submissions(state):
        if rec["state"] in ("PENDING", "RUNNING"):
            for pid in (rec.get("pgid"), rec.get("supervisor_pid")):
                with contextlib.suppress(ProcessLookupError, PermissionError, TypeError):
                    os.killpg(pid, signal.SIGKILL)
