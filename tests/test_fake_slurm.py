"""The fake SLURM in tests/fake_slurm, driven by the real snakemake-executor-plugin-slurm.

A tiny workflow in tmp_path (not this repository's Snakefile) runs with `--executor slurm`; the
fake's job records show what the plugin asked SLURM for.
"""

from __future__ import annotations

import getpass
import subprocess
import time
from pathlib import Path

import pytest
from conftest import SNAKEMAKE
from fake_slurm import FAST_POLL_ARGS, by_rule, fake_slurm, max_concurrency, submissions, wait_idle

pytest.importorskip("snakemake_executor_plugin_slurm")

SNAKEFILE = """
localrules: all, note

rule all:
    input: "gathered.txt"

rule train:
    output: "train.txt"
    resources: gpu=1, mem_mb=2000, runtime=10, cpus_per_task=2, slurm_partition="gpu"
    shell: "sleep 3 && echo $SLURM_JOB_ID ${{CUDA_VISIBLE_DEVICES:-none}} > {output}"

rule prep:
    output: "prep_{sample}.txt"
    threads: 2
    resources: mem_mb_per_cpu=500, runtime=5
    shell: "sleep 3 && echo $SLURM_JOB_ID $SLURM_CPUS_PER_TASK > {output}"

rule gres_job:
    output: "gres.txt"
    resources: gres="gpu:1", mem_mb=1000, runtime=7, slurm_partition="gpu"
    shell: "sleep 3 && touch {output}"

rule note:
    output: "note.txt"
    shell: "touch {output}"

rule gather:
    input: "train.txt", "prep_x.txt", "gres.txt", "note.txt"
    output: "gathered.txt"
    shell: "cat {input} > {output}"
"""

FAILING_SNAKEFILE = """
rule all:
    input: "bad.txt", "slow.txt", "fine.txt"

rule fine:
    output: "fine.txt"
    resources: runtime=5
    shell: "touch {output}"

rule bad:
    output: "bad.txt"
    resources: runtime=5
    shell: "echo doomed >&2; exit 1"

rule slow:
    output: "slow.txt"
    resources: runtime=1
    shell: "sleep 60 && touch {output}"
"""


def run_slurm_snakemake(workdir: Path, env: dict, *extra: str, account: str = "test",
                        timeout: int = 120) -> subprocess.CompletedProcess:
    (workdir / ".snakemake").mkdir(parents=True, exist_ok=True)
    cmd = [SNAKEMAKE, "--snakefile", str(workdir / "Snakefile"), "--directory", str(workdir),
           "--executor", "slurm", "--jobs", "10", *FAST_POLL_ARGS,
           "--default-resources", f"slurm_account={account}", "slurm_partition=cpu",
           "mem_mb=1000", *extra]
    return subprocess.run(cmd, cwd=workdir, env=env | {"PYTHONWARNINGS": "ignore"},
                          capture_output=True, text=True, timeout=timeout)


def test_plugin_runs_a_workflow_on_the_fake(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    state = tmp_path / "slurm"
    t0 = time.time()
    with fake_slurm(state) as env:
        proc = run_slurm_snakemake(tmp_path, env)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert time.time() - t0 < 90
    assert (tmp_path / "gathered.txt").is_file()

    jobs = submissions(state)
    rules = by_rule(jobs)
    # localrules never reach sbatch; every other job went through it exactly once
    assert sorted(rules) == ["gather", "gres_job", "prep", "train"], sorted(rules)
    assert all(len(v) == 1 for v in rules.values())
    assert all(j["state"] == "COMPLETED" and j["exit_code"] == 0 for j in jobs)
    # the three independent jobs ran at the same time; gather only after all of them
    parallel = [rules[r][0] for r in ("train", "prep", "gres_job")]
    assert max_concurrency(parallel) >= 2
    gather = rules["gather"][0]
    assert gather["start_time"] >= max(j["end_time"] for j in parallel)

    run_ids = {j["name"] for j in jobs}
    assert len(run_ids) == 1  # --job-name is the run UUID, shared by all jobs of the run
    for j in jobs:
        assert "--parsable" in j["argv"] and j["account"] == "test"
        assert j["comment"].startswith(f"rule_{j['rule']}")
        assert j["target_jobs"] == [f"{j['rule']}:" + ("sample=x" if j["rule"] == "prep" else "")]
        assert f"/.snakemake/slurm_logs/rule_{j['rule']}/" in j["output"]
        # the batch script runs `snakemake --executor slurm-jobstep`, which runs the job in one
        # step: `srun -n1 --cpu-bind=q --cpus-per-task=N [--gpus=N] --nodes=1 python -m snakemake`
        assert "--executor slurm-jobstep" in j["script"]
        assert len(j["steps"]) == 1 and j["steps"][0]["exit_code"] == 0
        assert j["steps"][0]["command"][1:3] == ["-m", "snakemake"]

    train, prep, gres = rules["train"][0], rules["prep"][0], rules["gres_job"][0]
    # gpu=1 -> --gpus=1 (and SLURM sets CUDA_VISIBLE_DEVICES); runtime -> -t; mem_mb -> --mem
    assert train["gpus"] == "1" and train["gpu_count"] == 1 and train["gres"] is None
    assert train["time_limit"] == "10" and train["time_limit_minutes"] == 10
    assert train["mem_mb"] == 2000 and train["cpus_per_task"] == 2
    assert train["partition"] == "gpu" and train["ntasks"] is None  # no --ntasks for GPU jobs
    assert (tmp_path / "train.txt").read_text().split() == [str(train["job_id_raw"]), "0"]
    assert train["steps"][0]["gpus"] == 1 and train["steps"][0]["cpus_per_task"] == 2
    # gres="gpu:1" -> --gres=gpu:1; mem_mb_per_cpu -> --mem-per-cpu (wins over mem_mb); threads
    assert gres["gres"] == "gpu:1" and gres["gpus"] is None and gres["gpu_count"] == 1
    assert gres["time_limit_minutes"] == 7 and gres["mem_mb"] == 1000
    assert prep["mem_per_cpu_mb"] == 500 and prep["mem_mb"] is None
    assert prep["cpus_per_task"] == 2 and prep["ntasks"] == 1 and prep["time_limit_minutes"] == 5
    assert prep["partition"] == "cpu" and prep["gpu_count"] == 0
    assert prep["rule"] == "prep" and prep["wildcards"] == "x"
    assert (tmp_path / "prep_x.txt").read_text().split() == [str(prep["job_id_raw"]), "2"]
    # no runtime for gather: no -t, so the partition's MaxTime applies
    assert gather["time_limit"] is None and gather["time_limit_minutes"] == 24 * 60


def test_failed_and_timed_out_jobs_fail_the_run(tmp_path):
    # (rule `fine` also keeps the test short: a status round in which no job *succeeded* makes
    # the plugin wait 10 s longer before the next one, and shutdown waits for that sleep.)
    (tmp_path / "Snakefile").write_text(FAILING_SNAKEFILE)
    state = tmp_path / "slurm"
    # one "minute" of --time lasts 2 s here, so runtime=1 times out fast
    with fake_slurm(state, seconds_per_minute=2) as env:
        proc = run_slurm_snakemake(tmp_path, env, "--keep-going")
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0, log[-4000:]
    rules = by_rule(submissions(state))
    bad, slow, fine = rules["bad"][0], rules["slow"][0], rules["fine"][0]
    assert fine["state"] == "COMPLETED" and (tmp_path / "fine.txt").is_file()  # --keep-going
    assert bad["state"] == "FAILED" and bad["exit_code"] == 1
    assert slow["state"] == "TIMEOUT"
    assert slow["end_time"] - slow["start_time"] < 10
    assert f"SLURM-job '{bad['job_id_raw']}' failed, SLURM status is: 'FAILED'" in log
    assert f"SLURM-job '{slow['job_id_raw']}' failed, SLURM status is: 'TIMEOUT'" in log
    assert "DUE TO TIME LIMIT" in Path(slow["output_path"]).read_text()
    assert not (tmp_path / "bad.txt").exists() and not (tmp_path / "slow.txt").exists()


def test_plugin_rejects_an_account_the_cluster_does_not_know(tmp_path):
    (tmp_path / "Snakefile").write_text(FAILING_SNAKEFILE.replace("runtime=1", "runtime=5"))
    state = tmp_path / "slurm"
    with fake_slurm(state) as env:  # the user's only account is "test"
        proc = run_slurm_snakemake(tmp_path, env, account="nope", timeout=60)
    assert proc.returncode != 0
    assert "The given account nope appears to be invalid" in proc.stdout + proc.stderr
    assert submissions(state) == []


def sh(env: dict, *cmd: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run a fake SLURM command in the state directory's parent (sbatch logs land there)."""
    cwd = Path(env["FAKE_SLURM_DIR"]).parent
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, input=stdin,
                          timeout=30)


def test_fake_commands_behave_like_slurm(tmp_path):
    state = tmp_path / "slurm"
    with fake_slurm(state, max_running=1) as env:
        # what sbatch refuses, like a real cluster
        assert "unrecognized option '--bogus'" in sh(env, "sbatch", "--bogus", "--wrap=true").stderr
        for args, msg in [
            (["-p", "cpu", "--gpus=1"], "Requested node configuration is not available"),
            (["-p", "nope"], "invalid partition specified: nope"),
            (["-A", "other"], "Invalid account"),
            (["-t", "2-00:00:00"], "Requested time limit is invalid"),
            (["--mem", "1G", "--mem-per-cpu", "100"], "mutually exclusive"),
            (["-t", "soon"], "Invalid --time specification"),
        ]:
            proc = sh(env, "sbatch", "--parsable", *args, "--wrap=true")
            assert proc.returncode == 1 and msg in proc.stderr, (args, proc.stderr)
        assert "does not look like a batch script" in sh(env, "sbatch", stdin="echo hi\n").stderr

        # a script on stdin with #SBATCH lines; the command line wins over them
        script = "#!/bin/sh\n#SBATCH -t 3\n#SBATCH --job-name=fromscript -c 2\nsleep 1\n"
        out = sh(env, "sbatch", "--parsable", "-t", "4", "-o", str(tmp_path / "j%j.out"),
                 stdin=script)
        assert out.returncode == 0 and out.stdout.strip().isdigit(), out.stderr
        first = out.stdout.strip()
        second = sh(env, "sbatch", "-J", "two", "--wrap", "echo $SLURM_JOB_ID; sleep 1",
                    "-D", str(tmp_path)).stdout
        assert second.startswith("Submitted batch job ")
        second = second.split()[-1]
        time.sleep(0.5)
        q = sh(env, "squeue", "--format=%i|%T|%j", "--noheader").stdout.split()
        assert f"{first}|RUNNING|fromscript" in q and f"{second}|PENDING|two" in q  # max_running=1
        assert wait_idle(state, 20)
        jobs = {j["job_id"]: j for j in submissions(state)}
        assert jobs[first]["time_limit_minutes"] == 4 and jobs[first]["cpus_per_task"] == 2
        assert max_concurrency(jobs.values()) == 1
        assert (tmp_path / f"slurm-{second}.out").read_text().strip() == second

        acct = sh(env, "sacct", "-X", "--parsable2", "--noheader", "--format=JobIdRaw,State",
                  "--name", "two").stdout
        assert acct == f"{second}|COMPLETED\n"
        steps = sh(env, "sacct", "-j", second, "-P", "-n", "-o", "JobID,State").stdout.split()
        assert steps == [f"{second}|COMPLETED", f"{second}.batch|COMPLETED",
                         f"{second}.extern|COMPLETED"]
        assert "cpu*" in sh(env, "sinfo", "-o", "%P").stdout.split()
        assert "MinJobAge" in sh(env, "scontrol", "show", "config").stdout
        accounts = sh(env, "sacctmgr", "-n", "-s", "list", "user", "x", "format=account%256")
        assert accounts.stdout.split() == [] and accounts.returncode == 0
        assert sh(env, "sacctmgr", "-n", "-s", "list", "user", getpass.getuser(),
                  "format=account%256").stdout.split() == ["test"]

        # scancel kills a running job (the whole process group) and sacct says so
        jid = sh(env, "sbatch", "--parsable", "--wrap", "sleep 300 & sleep 300").stdout.strip()
        deadline = time.time() + 10
        while sh(env, "squeue", "-h", "-j", jid, "-o", "%T").stdout.strip() != "RUNNING":
            assert time.time() < deadline
            time.sleep(0.2)
        assert sh(env, "scancel", jid).returncode == 0
        assert wait_idle(state, 10)
        rec = {j["job_id"]: j for j in submissions(state)}[jid]
        assert rec["state"].startswith("CANCELLED by ")
        assert live_members(rec["pgid"]) == []


def live_members(pgid: int) -> list[int]:
    """Processes of a process group that are not zombies (orphans may wait for a reaper)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids
