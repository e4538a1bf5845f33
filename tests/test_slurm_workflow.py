"""The workflow on a real one-node SLURM cluster (.ci/slurm-cluster.sh: slurmctld, slurmd and
slurmdbd; 16 CPUs, 256 GB and 4 stand-in GPUs; partitions `cpu` and `gpu`), run as the README says
(`--workflow-profile profiles/slurm`) and checked from the cluster's own accounting (sacct)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, copy_run
from fake_skyserver import FakeSkyServer, make_rows

pytest.importorskip("snakemake_executor_plugin_slurm")
pytestmark = pytest.mark.slow

CLUSTER_SCRIPT = ROOT / ".ci" / "slurm-cluster.sh"
PROFILE = ROOT / "profiles" / "slurm"
SIZES = [8, 4, 1]
MODEL = "results/models/oh_p50-{}px/seed3.pt"
# Faster status polling than a real cluster wants; every other setting is the profile's.
POLL = (
    "--slurm-init-seconds-before-status-checks",
    "1",
    "--seconds-between-status-checks",
    "1",
    "--latency-wait",
    "5",
)
SACCT_FIELDS = [
    "JobID",
    "Comment",
    "Partition",
    "AllocCPUS",
    "ReqMem",
    "TimelimitRaw",
    "ReqTRES",
    "State",
    "Submit",
    "Start",
    "End",
    "WorkDir",
]


def _unavailable(reason: str):
    """Skip where no test cluster can be had; on CI a missing cluster is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the SLURM test cluster: {reason}")
    pytest.skip(reason)


def _cluster_is_up() -> bool:
    if not shutil.which("sinfo"):
        return False
    out = subprocess.run(["sinfo", "-h", "-o", "%P %G"], capture_output=True, text=True, timeout=30)
    parts = dict(line.split() for line in out.stdout.splitlines() if line.strip())
    return out.returncode == 0 and parts.get("cpu*") is not None and "gpu:4" in parts.get("gpu", "")


@pytest.fixture(scope="module")
def cluster() -> None:
    """The test cluster, started by .ci/slurm-cluster.sh when it is installed but down."""
    if _cluster_is_up():
        return
    if os.geteuid() != 0:
        _unavailable(
            f"no SLURM test cluster is up, and starting one needs root: sudo {CLUSTER_SCRIPT}"
        )
    proc = subprocess.run(
        [str(CLUSTER_SCRIPT), "--no-install"], capture_output=True, text=True, timeout=300
    )
    if proc.returncode == 3:  # the Debian packages are missing
        _unavailable(proc.stderr.strip())
    assert proc.returncode == 0 and _cluster_is_up(), proc.stderr


def snakemake_cmd(work: Path, configfile: Path, *targets: str) -> list[str]:
    """The README's SLURM command, run in `work`."""
    return [
        SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--workflow-profile",
        str(PROFILE),
        "--configfile",
        str(configfile),
        *POLL,
        *targets,
    ]


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)


def jobs_in(work: Path, since: float) -> list[dict]:
    """sacct's record of every job submitted from `work` since `since`, in submission order."""
    start = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(since - 1))
    out = subprocess.run(
        ["sacct", "-X", "-P", "-n", "--units=M", "-S", start, "-o", ",".join(SACCT_FIELDS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    jobs = []
    for line in out.splitlines():
        row = dict(zip(SACCT_FIELDS, line.split("|"), strict=True))
        if Path(row["WorkDir"]) != work or _time(row["Submit"]) < int(since):
            continue
        rule = re.fullmatch(r"rule_(\w+?)(?:_wildcards_(\w+))?", row["Comment"])
        gpus = re.search(r"gres/gpu=(\d+)", row["ReqTRES"])
        jobs.append(
            {
                "id": int(row["JobID"]),
                "rule": rule[1] if rule else "",
                "wildcards": rule and rule[2],
                "partition": row["Partition"],
                "cpus": int(row["AllocCPUS"]),
                "mem_mb": float(row["ReqMem"].rstrip("M")),
                "minutes": int(row["TimelimitRaw"]),
                "gpus": int(gpus[1]) if gpus else 0,
                "state": row["State"].split()[0],
                "start": _time(row["Start"]),
                "end": _time(row["End"]),
            }
        )
    return sorted(jobs, key=lambda j: j["id"])


def _time(value: str) -> float | None:
    return datetime.fromisoformat(value).timestamp() if value[:1].isdigit() else None


def by_rule(jobs: list[dict]) -> dict[str, list[dict]]:
    rules: dict[str, list[dict]] = {}
    for job in jobs:
        rules.setdefault(job["rule"], []).append(job)
    return rules


def max_in_flight(jobs: list[dict]) -> int:
    """The most jobs running at one moment."""
    events = sorted(
        [(j["start"], 1) for j in jobs] + [(j["end"], -1) for j in jobs], key=lambda e: (e[0], e[1])
    )
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def queued(rule: str) -> list[tuple[int, str, str]]:
    """(job id, wildcards, state) of the cluster's queued and running jobs of `rule`."""
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i|%k|%T"], capture_output=True, text=True, timeout=30
    ).stdout
    found = []
    for line in out.splitlines():
        job, comment, state = line.split("|")
        m = re.fullmatch(rf"rule_{rule}_wildcards_(\w+)", comment)
        if m:
            found.append((int(job), m[1], state))
    return found


def profile_value(rule: str, key: str, attempt: int = 1):
    """A resource of profiles/slurm for `rule` at `attempt`, evaluated as Snakemake does."""
    value = yaml.safe_load((PROFILE / "config.yaml").read_text())["set-resources"][rule][key]
    try:
        return eval(value, {"attempt": attempt}) if isinstance(value, str) else value  # noqa: S307
    except NameError:  # a plain string, such as a partition name
        return value


@pytest.fixture(scope="module")
def sdss_run(tmp_path_factory, cluster) -> dict:
    """`source: sdss` against the SkyServer double: three training sizes, one of them predicted."""
    work = tmp_path_factory.mktemp("slurm-sdss")
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["targets"] = {"oh_p50": SIZES}
    since = time.time()
    with FakeSkyServer(make_rows(60, duplicates=0, outside=2)) as server:
        cfg["sdss"]["url"] = server.url
        (work / "sdss.yaml").write_text(yaml.safe_dump(cfg))
        proc = run(
            snakemake_cmd(
                work,
                work / "sdss.yaml",
                *[MODEL.format(s) for s in SIZES],
                f"results/predictions/oh_p50-{SIZES[-1]}px.csv",
            )
        )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return {"work": work, "jobs": jobs_in(work, since), "log": proc.stdout + proc.stderr}


def test_trainings_run_at_once_each_asking_the_profiles_gpu_time_and_memory(sdss_run):
    jobs = by_rule(sdss_run["jobs"])
    assert all(j["state"] == "COMPLETED" for js in jobs.values() for j in js)
    train = jobs["train"]
    assert sorted(j["wildcards"] for j in train) == sorted(f"oh_p50_{s}_3" for s in SIZES)
    assert max_in_flight(train) >= 2  # no one-GPU limit inherited from the local profile
    assert len(jobs["ensemble"]) == len(jobs["predict"]) == 1
    for rule in ("train", "ensemble", "predict"):
        for job in jobs[rule]:  # one GPU on the GPU partition, the profile's time and memory
            assert job["partition"] == profile_value(rule, "slurm_partition") == "gpu"
            assert job["gpus"] == profile_value(rule, "gpu") == 1
            assert job["minutes"] == profile_value(rule, "runtime")
            assert job["mem_mb"] == profile_value(rule, "mem_mb")
    # Each job's CPUs are its rule's `threads`, as the submitting Snakemake lists them.
    threads = dict(re.findall(r"rule (\w+):\n(?:    .*\n)*?    threads: (\d+)", sdss_run["log"]))
    assert threads["train"] == threads["predict"] == threads["ensemble"] == "8"
    for rule, js in jobs.items():
        assert all(j["cpus"] == int(threads.get(rule, 1)) for j in js), rule


def test_cpu_jobs_go_to_the_cpu_partition_and_downloads_stay_local(sdss_run):
    jobs = by_rule(sdss_run["jobs"])
    assert not {"catalog", "cutouts_shard"} & set(jobs)  # localrules: run by the submitting process
    assert (sdss_run["work"] / "results" / "cutouts" / "manifest.csv").is_file()
    cpu_rules = {"cutouts_manifest", "pack", "split"}
    assert cpu_rules <= set(jobs)
    default_mem = yaml.safe_load((PROFILE / "config.yaml").read_text())["default-resources"][
        "mem_mb"
    ]
    for job in (j for rule in cpu_rules for j in jobs[rule]):
        assert job["partition"] == "cpu" and job["gpus"] == 0 and job["mem_mb"] == default_mem


def _without_model(src: Path, dest: Path, *sizes: int) -> Path:
    """A copy of a finished run that lacks the trained models of `sizes` (to train them again)."""
    work = copy_run(src, dest)
    for size in sizes:
        for path in (work / "results" / "models" / f"oh_p50-{size}px").glob("seed3.*"):
            path.unlink()
    return work


def _job_pids(job: int) -> list[int]:
    """The processes of a running SLURM job (slurmstepd aside), from their environment."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if f"SLURM_JOB_ID={job}\0".encode() in environ.read_bytes():
                pids.append(int(environ.parent.name))
        except OSError:
            continue
    return pids


def start(cmd: list[str], log: Path) -> subprocess.Popen:
    """Snakemake in the background, its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def tail(log: Path) -> str:
    return log.read_text()[-4000:]


def _wait_for(what: str, condition, seconds: float, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    proc.kill()
    proc.wait()
    raise AssertionError(f"{what} did not happen:\n{tail(log)}")


def _interrupt(proc: subprocess.Popen, log: Path) -> int:
    """Ctrl-C, pressed again if Snakemake has not stopped a minute later (one Ctrl-C that landed
    as it handled a cancelled job has been seen to go unanswered); its exit status."""
    for _ in range(2):
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            continue
    proc.kill()
    proc.wait()
    raise AssertionError(f"Snakemake did not stop after two Ctrl-C:\n{tail(log)}")


def _training_pids(job: int) -> list[int]:
    """The processes of a SLURM job, once its training script runs (else none)."""
    pids = _job_pids(job)
    cmdlines = []
    for pid in pids:
        try:
            cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    return pids if any(b"train.py" in c for c in cmdlines) else []


def test_a_timed_out_training_is_retried_with_more_time_and_a_cancelled_run_resumes(
    sdss_run, tmp_path
):
    """Two trainings in one run (to keep the test short), both held (stopped) once they train.
    A: its end time is moved to now (as an administrator can), so SLURM's time-limit enforcement
    kills it (TIMEOUT) as it would after 240 minutes, and the profile's retry asks for twice the
    time and memory. B: cancelled with `scancel` after A's retry finished, then the run stopped
    (Ctrl-C); the same command then trains B and nothing else."""
    a, b = "oh_p50_4_3", "oh_p50_8_3"
    work = _without_model(sdss_run["work"], tmp_path / "run", 4, 8)
    targets = [MODEL.format(4), MODEL.format(8)]
    cmd = snakemake_cmd(work, work / "sdss.yaml", *targets)
    log = tmp_path / "snakemake.log"
    since = time.time()
    proc = start(cmd, log)

    def running() -> dict[str, int]:
        jobs = {w: j for j, w, state in queued("train") if state == "RUNNING"}
        return jobs if {a, b} <= set(jobs) else {}

    first = _wait_for("both trainings running", running, 180, proc, log)
    for job in first.values():
        for pid in _wait_for(
            f"job {job} training", lambda job=job: _training_pids(job), 120, proc, log
        ):
            os.kill(pid, signal.SIGSTOP)
    subprocess.run(
        ["scontrol", "update", f"JobId={first[a]}", "EndTime=now"], check=True, timeout=30
    )
    _wait_for(
        "A's retry to finish", lambda: "1 of 2 steps (50%) done" in log.read_text(), 300, proc, log
    )
    subprocess.run(["scancel", str(first[b])], check=True, timeout=30)
    _wait_for(
        "B cancelled", lambda: not [j for j, w, _ in queued("train") if w == b], 60, proc, log
    )
    assert _interrupt(proc, log) != 0, tail(log)  # the user stops the run

    train = by_rule(jobs_in(work, since))["train"]
    retried = [j for j in train if j["wildcards"] == a]
    assert [j["state"] for j in retried] == ["TIMEOUT", "COMPLETED"], tail(log)
    assert (
        retried[1]["minutes"]
        == profile_value("train", "runtime", 2)
        > profile_value("train", "runtime", 1)
    )
    assert [j["mem_mb"] for j in retried] == [profile_value("train", "mem_mb", n) for n in (1, 2)]
    assert [(j["id"], j["state"]) for j in train if j["wildcards"] == b] == [
        (first[b], "CANCELLED")
    ]
    assert (work / MODEL.format(4)).is_file() and not (work / MODEL.format(8)).exists()

    since = time.time()
    rerun = run(cmd)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    resumed = jobs_in(work, since)
    assert [(j["rule"], j["wildcards"], j["state"]) for j in resumed] == [("train", b, "COMPLETED")]
    assert resumed[0]["minutes"] == profile_value("train", "runtime", 1)
    assert all((work / t).is_file() for t in targets)


@pytest.mark.parametrize("partition", ["cpu", "gpu"])
def test_device_auto_in_a_slurm_job(cluster, partition):
    """`device: auto` in a job SLURM gave a GPU that PyTorch cannot use (the stand-in devices)
    stops with the reason; on the CPU partition it picks the CPU."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a usable GPU: the stand-in devices would map onto it")
    code = "from galaxy_cnn.device import resolve_device; print(resolve_device('auto'))"
    gpus = ["--gpus=1"] if partition == "gpu" else []
    proc = subprocess.run(
        ["srun", "-p", partition, *gpus, "-t", "5", "--mem=2000", sys.executable, "-c", code],
        cwd=ROOT / "workflow" / "scripts",
        capture_output=True,
        text=True,
        timeout=300,
    )
    if partition == "cpu":
        assert proc.returncode == 0 and proc.stdout.strip() == "cpu", proc.stderr
    else:
        assert proc.returncode != 0
        assert re.search(
            r"This job was given a GPU \(CUDA_VISIBLE_DEVICES=\d\) but PyTorch", proc.stderr
        )
