"""The workflow on a SLURM cluster (the fake of tests/fake_slurm, driven by the real executor
plugin), run as the README documents it: `--workflow-profile profiles/slurm`."""

import subprocess

import pandas as pd
import pytest
import yaml
from conftest import ROOT, SNAKEMAKE
from fake_skyserver import FakeSkyServer, make_rows
from fake_slurm import FAST_POLL_ARGS, by_rule, fake_slurm, max_concurrency, submissions

pytest.importorskip("snakemake_executor_plugin_slurm")
pytestmark = pytest.mark.slow


def test_sdss_workflow_on_slurm_trains_in_parallel_and_downloads_locally(tmp_path):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["targets"] = {"oh_p50": [8, 4, 1]}
    rows = make_rows(60, duplicates=0, outside=2)
    state = tmp_path / "slurm"
    with FakeSkyServer(rows) as server, fake_slurm(state, accounts=None) as env:
        cfg["sdss"]["url"] = server.url
        (tmp_path / "sdss.yaml").write_text(yaml.safe_dump(cfg))
        proc = subprocess.run(
            [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
             "--workflow-profile", str(ROOT / "profiles" / "slurm"), "--configfile", str(tmp_path / "sdss.yaml"),
             *FAST_POLL_ARGS, "results/metrics.csv"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    jobs = by_rule(submissions(state))
    assert not {"catalog", "cutouts_shard"} & set(jobs)  # downloads run on the submitting node
    assert {"cutouts_manifest", "pack", "split", "train", "predict", "metrics"} <= set(jobs)
    assert all(j["state"] == "COMPLETED" for js in jobs.values() for j in js)
    train = jobs["train"]
    assert len(train) == 3
    for job in train + jobs["predict"]:  # a GPU, a time limit and memory, on the GPU partition
        assert job["gpu_count"] == 1 and job["partition"] == "gpu"
        assert job["time_limit_minutes"] > 0 and job["mem_mb"] > 0
    assert {j["time_limit_minutes"] for j in train} == {240} and {j["mem_mb"] for j in train} == {64000}
    assert max_concurrency(train) >= 2  # no one-GPU limit inherited from the local profile
    assert all(j["partition"] == "cpu" and j["gpu_count"] == 0 for j in jobs["pack"] + jobs["split"])
    metrics = pd.read_csv(tmp_path / "results" / "metrics.csv")
    assert sorted(metrics["size"]) == [1, 4, 8]
