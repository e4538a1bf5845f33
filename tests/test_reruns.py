"""Reruns you can trust: after a finished run, one config change reruns exactly what uses it."""

import copy
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import FIGURES, TINY, copy_run, job_counts, run_snakemake
from galaxy_cnn.cutouts import read_stamp

pytestmark = pytest.mark.slow

FIGURE_RULES = {f"figure_{f}" for f in FIGURES}
AFTER_PREDICT = {"predict", "metrics", "paper_comparison", "run_summary"} | FIGURE_RULES
AFTER_ENSEMBLE = {"ensemble"} | AFTER_PREDICT
AFTER_TRAIN = {"train"} | AFTER_ENSEMBLE
AFTER_SPLIT = {"split", "random_forest_baselines"} | AFTER_TRAIN
AFTER_CUTOUTS = {"cutouts_shard", "cutouts_manifest", "pack"} | AFTER_SPLIT
AFTER_CATALOG = {"catalog"} | AFTER_CUTOUTS
N_MODELS = 4  # tiny.yaml: oh_p50 at 16, 4, 1 px and lgm_tot_p50 at 16 px


@pytest.fixture(scope="module")
def finished(tiny_run_once, tmp_path_factory):
    work = copy_run(tiny_run_once, tmp_path_factory.mktemp("reruns") / "run")
    assert job_counts(run_snakemake("-n", "--configfile", str(TINY), workdir=work).stdout) == {}
    return work


def dry_run(work, cfg) -> dict[str, int]:
    path = work / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return job_counts(run_snakemake("-n", "--configfile", str(path), workdir=work).stdout)


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("train", "epochs", 2, AFTER_TRAIN),
        ("train", "lr", 0.01, AFTER_TRAIN),
        ("train", "batch_size", 4, AFTER_TRAIN),
        ("train", "engine", "fast", AFTER_TRAIN),
        ("train", "seeds", [4], AFTER_TRAIN),
        ("predict", "tta_views", 4, AFTER_ENSEMBLE),  # the calibration uses the same views
        ("train", "loss", "rmse", AFTER_TRAIN),
        ("split", "seed", 2, AFTER_SPLIT),
        ("split", "fractions", [0.5, 0.25, 0.25], AFTER_SPLIT),
        ("cutouts", "scale", 2.0, AFTER_CUTOUTS),
        ("cutouts", "size", 32, AFTER_CUTOUTS),
        ("cutouts", "shards", 3, AFTER_CUTOUTS),
        ("synthetic", "seed", 8, AFTER_CATALOG),
        ("synthetic", "n_galaxies", 61, AFTER_CATALOG),
        ("synthetic", "render", {"q": 6.0}, AFTER_CUTOUTS),
        (
            "cutouts",
            "concurrency",
            2,
            set(),
        ),  # a download setting: the synthetic source does not use it
        ("sdss", "url", "https://example.org/dr18", set()),
    ],
)
def test_one_config_change_reruns_exactly_its_downstream_jobs(
    finished, section, key, value, expected
):
    cfg = copy.deepcopy(yaml.safe_load(TINY.read_text()))
    cfg.setdefault(section, {})[key] = value
    jobs = dry_run(finished, cfg)
    assert set(jobs) == expected, f"{section}.{key}: {jobs}"
    for rule in ("train", "ensemble", "predict"):
        if rule in expected:
            assert jobs[rule] == N_MODELS, jobs  # every model, not a subset


def test_adding_an_image_size_trains_only_the_new_model(finished):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["targets"]["oh_p50"].append(2)
    jobs = dry_run(finished, cfg)
    assert jobs == {
        "train": 1,
        "ensemble": 1,
        "predict": 1,
        "metrics": 1,
        "figure_metrics_vs_size": 1,
        "paper_comparison": 1,
        "run_summary": 1,
    }


def test_adding_a_seed_trains_only_the_new_members(finished):
    cfg = yaml.safe_load(TINY.read_text())
    cfg["train"]["seeds"].append(9)
    jobs = dry_run(finished, cfg)
    assert (
        jobs["train"] == N_MODELS and jobs["ensemble"] == N_MODELS
    )  # one new member each, the old kept
    assert set(jobs) == AFTER_TRAIN


def test_a_scale_change_makes_new_cutouts_even_with_forceall(finished):
    cut = finished / "results" / "cutouts"
    before = {p.name: p.read_bytes() for p in cut.glob("*.jpg")}
    cfg = yaml.safe_load(TINY.read_text())
    cfg["cutouts"]["scale"] = 1.5
    path = finished / "scale.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_snakemake(
        "--configfile",
        str(path),
        "--cores",
        "2",
        "--forceall",
        "results/packed/index.csv",
        workdir=finished,
    )
    after = {p.name: p.read_bytes() for p in cut.glob("*.jpg")}
    assert set(after) == set(before)
    assert all(after[n] != before[n] for n in before)  # every file remade, none reused
    assert len({read_stamp(b) for b in after.values()}) == len(after)  # one stamp per galaxy row
    assert not {read_stamp(b) for b in after.values()} & {read_stamp(b) for b in before.values()}
    manifest = yaml.safe_load((cut / "manifest.json").read_text())
    assert manifest["image"] == {"scale": 1.5, "service": "synthetic", "size": 16, "survey": "sdss"}


@pytest.fixture(scope="module")
def local_finished(tiny_run_once, tmp_path_factory):
    """A `source: local` run on the tiny run's own cutouts and catalog."""
    work = tmp_path_factory.mktemp("local-reruns")
    images = work / "my_images"
    images.mkdir()
    for p in (tiny_run_once / "results" / "cutouts").glob("*.jpg"):
        (images / p.name).write_bytes(p.read_bytes())
    cat = pd.read_csv(tiny_run_once / "results" / "catalog.csv")
    cat[["objID", "ra", "dec", "oh_p50"]].to_csv(work / "my_catalog.csv", index=False)
    cfg = yaml.safe_load(TINY.read_text())
    cfg |= {
        "source": "local",
        "local": {"catalog": str(work / "my_catalog.csv"), "images": str(images)},
        "targets": {"oh_p50": [1]},
    }
    (work / "local.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake("--configfile", str(work / "local.yaml"), "--cores", "2", workdir=work)
    return work, cfg


def test_changes_in_a_local_image_folder_rerun_the_import(local_finished):
    work, cfg = local_finished
    images = work / "my_images"
    assert dry_run(work, cfg) == {}
    victim = sorted(images.glob("*.jpg"))[0]
    original, stamp = victim.read_bytes(), victim.stat()
    arr = np.full((16, 16, 3), 90, np.uint8)
    from galaxy_cnn.images import jpeg_of

    victim.write_bytes(jpeg_of(arr))  # the same name, new content
    after_import = {
        "cutouts_shard",
        "cutouts_manifest",
        "pack",
        "split",
        "train",
        "ensemble",
        "predict",
        "metrics",
        "paper_comparison",
        "run_summary",
        "random_forest_baselines",
    } | (FIGURE_RULES - {"figure_mzr", "figure_stellar_mass"})
    assert set(dry_run(work, cfg)) == after_import
    victim.write_bytes(original)
    os.utime(
        victim, ns=(stamp.st_atime_ns, stamp.st_mtime_ns)
    )  # the folder exactly as the run saw it
    assert dry_run(work, cfg) == {}
    (images / "notes.txt").write_text("not an image")  # not an input: nothing to redo
    assert dry_run(work, cfg) == {}
    (images / "extra.png").write_bytes(jpeg_of(arr))  # a file added
    assert set(dry_run(work, cfg)) == after_import
    (images / "extra.png").unlink()
    victim.unlink()  # a file removed
    assert set(dry_run(work, cfg)) == after_import
