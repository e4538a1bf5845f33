"""The real Snakemake on this workflow: dry runs, config validation, lint. Every run is in a
temporary folder: what a user's ./results holds (after `make demo`, say) changes no test."""

import re

import pytest
import yaml
from conftest import FIGURES, ROOT, run_snakemake


def job_counts(output: str) -> dict[str, int]:
    table = output[output.index("Job stats:") :]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


PAPER = str(ROOT / "config" / "config.yaml")


def test_paper_config_dry_run_lists_the_full_dag(tmp_path):
    out = run_snakemake("-n", "--configfile", PAPER, workdir=tmp_path).stdout
    jobs = job_counts(out)
    assert jobs["catalog"] == 1 and jobs["cutouts_shard"] >= 2 and jobs["cutouts_manifest"] == 1
    assert jobs["pack"] == 1 and jobs["split"] == 1
    assert (
        jobs["train"] == 9
        and jobs["ensemble"] == 9
        and jobs["predict"] == 9
        and jobs["metrics"] == 1
    )
    assert (
        jobs["train_cv"] == 5 and jobs["predict_cv"] == 5 and jobs["cv_summary"] == 1
    )  # the paper's 5-fold CV
    assert {f"figure_{f}" for f in FIGURES} <= set(jobs)
    assert {"random_forest_baselines", "paper_comparison", "run_summary"} <= set(jobs)


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profiles_dry_run(profile, tmp_path):
    out = run_snakemake(
        "-n",
        "--workflow-profile",
        str(ROOT / "profiles" / profile),
        "--configfile",
        PAPER,
        workdir=tmp_path,
    )
    log = out.stdout + out.stderr
    assert job_counts(out.stdout)["train"] == 9
    train_jobs = re.findall(r"rule train:.*?resources: ([^\n]*)", log, re.S)
    assert len(train_jobs) == 9 and all("gpu=1" in r for r in train_jobs)
    if (
        profile == "slurm"
    ):  # training asks SLURM for a GPU on the GPU partition, with time and memory
        assert all(
            "runtime=240" in r and "slurm_partition=gpu" in r and "mem_mb=64000" in r
            for r in train_jobs
        )
        assert (
            "cpus_per_task" not in log
        )  # CPUs are the rules' threads (tests/test_slurm_workflow.py)
        jobs = [
            (re.search(r"rule (\w+):", block), re.search(r"resources: ([^\n]*)", block))
            for block in re.split(r"\n\s*\n", log)
        ]
        gpu_jobs = [(name[1], res[1]) for name, res in jobs if name and res and "gpu=1" in res[1]]
        assert {"train", "ensemble", "predict"} <= {name for name, _ in gpu_jobs}
        assert all(
            "slurm_partition=gpu" in r for _, r in gpu_jobs
        )  # no GPU job lands on a CPU partition
        named = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())[
            "set-resources"
        ]
        rules = set(
            run_snakemake("--list-rules", "--configfile", PAPER, workdir=tmp_path).stdout.split()
        )
        assert set(named) <= rules, f"profile names rules that do not exist: {set(named) - rules}"
        gpu_rules = set(
            re.findall(
                r"^rule (\w+):(?:(?!^rule ).)*?gpu=train_device_resources",
                "".join(p.read_text() for p in (ROOT / "rules").glob("*.smk")),
                re.S | re.M,
            )
        )
        assert gpu_rules <= set(named), (
            f"GPU rules without SLURM resources: {gpu_rules - set(named)}"
        )


def test_demo_is_the_default_and_dry_runs(tmp_path):
    out = run_snakemake("-n", workdir=tmp_path).stdout
    assert "config/demo.yaml" in out
    jobs = job_counts(out)
    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    assert jobs["train"] == sum(len(v) for v in demo["targets"].values())


def test_config_files_share_one_key_set():
    def keys(d, prefix=""):
        return {prefix + k for k in d} | {
            x
            for k, v in d.items()
            if isinstance(v, dict) and k != "targets"
            for x in keys(v, prefix + k + ".")
        }

    paper = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    assert keys(paper) == keys(demo)


@pytest.mark.parametrize(
    ("section", "patch", "named"),
    [
        ("train", {"device": "gpu0"}, "device"),
        ("cutouts", {"size": "big"}, "size"),
        (None, {"source": "skyserver"}, "source"),
        ("split", {"fractions": [0.6, 0.2]}, "fractions"),
        ("targets", {"oh_p50": [64, 48]}, "targets.oh_p50"),
        ("split", {"fractions": [0.5, 0.2, 0.2]}, "split.fractions"),
        ("train", {"epochs": 0}, "epochs"),
        ("train", {"learning_rate": 0.1}, "learning_rate"),
    ],
)
def test_bad_config_fails_before_any_job_naming_the_key(section, patch, named, tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    (cfg[section] if section else cfg).update(patch)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "-n", "--configfile", str(tmp_path / "bad.yaml"), workdir=tmp_path, check=False
    )
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert named in text, text[-2000:]
    assert not (tmp_path / "results").exists()


def test_lint_is_clean():
    out = run_snakemake("--lint").stdout + run_snakemake("--lint").stderr
    assert "Congratulations, your workflow is in a good condition!" in out


def test_sdss_downloads_hold_the_skyserver_resource(tmp_path):
    # that they are never submitted to a cluster is shown by tests/test_slurm_workflow.py
    out = run_snakemake(
        "-n",
        "--configfile",
        PAPER,
        "--workflow-profile",
        str(ROOT / "profiles" / "slurm"),
        workdir=tmp_path,
    )
    log = out.stdout + out.stderr
    for rule in ("catalog", "cutouts_shard"):
        blocks = re.findall(rf"rule {rule}:.*?resources: ([^\n]*)", log, re.S)
        assert blocks and all("sdss_api=1" in b for b in blocks), rule
