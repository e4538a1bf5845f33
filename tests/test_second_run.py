"""The second run: downloads that failed are retried by a plain rerun, the user's files are never
written, bad model files are refused in one line, and nothing depends on ./results."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import ROOT, TINY, copy_run, run_snakemake
from fake_skyserver import FakeSkyServer, make_rows
from galaxy_cnn.images import jpeg_of
from galaxy_cnn.model import MODEL_FORMAT, GalaxyRegressor, ModelFileError, load_model

PACKED = "results/packed/index.csv"


def _sdss_config(tmp_path, url, **cutouts):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["sdss"]["url"] = url
    cfg["cutouts"].update({"retries": 2, "retry_delay": 0.01} | cutouts)
    path = tmp_path / "sdss.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_rerun_after_an_outage_completes_the_downloads(tmp_path):
    rows = make_rows(30, duplicates=0, outside=1)
    with FakeSkyServer(rows) as server:
        server.always_fail.update(
            r["objID"] for r in rows
        )  # the server answers 500 to every cutout
        cfg = _sdss_config(tmp_path, server.url)
        first = run_snakemake(
            "--configfile", str(cfg), "--cores", "2", PACKED, workdir=tmp_path, check=False
        )
        text = first.stdout + first.stderr
        assert first.returncode != 0
        assert (
            "29 of 30 cutouts failed to download" in text and "run the same command again" in text
        ), text[-2000:]
        assert "Traceback" not in text
        server.always_fail.clear()  # the server is back
        requests_before = dict(server.cutout_requests)
        run_snakemake("--configfile", str(cfg), "--cores", "2", PACKED, workdir=tmp_path)
    manifest = pd.read_csv(tmp_path / "results" / "cutouts" / "manifest.csv")
    assert manifest["status"].value_counts().to_dict() == {"ok": 29, "outside_footprint": 1}
    assert len(pd.read_csv(tmp_path / PACKED)) == 29
    again = {k: v - requests_before.get(k, 0) for k, v in server.cutout_requests.items()}
    assert sum(again.values()) == 30  # each galaxy asked for once more, the outside one included


# --- model files: checked before use, refused in one line ------------------------------------


@pytest.fixture(scope="module")
def model_state():
    return GalaxyRegressor(8.9, 0.2).state_dict()


def _model(tmp_path, state, name, sigma_scale=1.0, **meta):
    path = tmp_path / name
    meta = {"target": "oh_p50", "size": 8, "cutouts": {"size": 64, "scale": 0.396}} | meta
    torch.save(
        {"format": MODEL_FORMAT, "members": [state], "sigma_scale": sigma_scale, "meta": meta}, path
    )
    return str(path)


def test_bad_model_files_are_refused_naming_the_problem(tmp_path, model_state):
    nan_state = dict(model_state) | {"head.7.bias": torch.tensor([float("nan")])}
    (tmp_path / "text.pt").write_text("hello")
    cases = [
        (str(tmp_path / "text.pt"), "text.pt is not a galaxy_cnn model file"),
        (_model(tmp_path, model_state, "nan_scale.pt", float("nan")), "sigma_scale is nan"),
        (_model(tmp_path, model_state, "neg_scale.pt", -1.0), "sigma_scale is -1.0"),
        (_model(tmp_path, nan_state, "nan_weights.pt"), "NaN or infinite weights (head.7.bias)"),
        (
            _model(tmp_path, model_state, "size3.pt", size=3),
            "image size 3 px does not divide its cutout size 64",
        ),
        (
            _model(tmp_path, model_state, "scale0.pt", cutouts={"size": 64, "scale": 0}),
            "cutout scale 0",
        ),
        (_model(tmp_path, model_state, "target.pt", target=101), "target 101"),
        (str(tmp_path / "absent.pt"), "no such model file"),
    ]
    for path, message in cases:
        with pytest.raises(ModelFileError) as err:
            load_model(path)
        assert message in str(err.value) and "\n" not in str(err.value), (path, str(err.value))
    model, meta = load_model(_model(tmp_path, model_state, "good.pt"))
    assert meta["size"] == 8 and model.sigma_scale == 1.0


def test_bad_pretrained_weights_are_refused_in_one_line(tmp_path):
    from galaxy_cnn.errors import InputError
    from galaxy_cnn.model import load_imagenet_body
    from torchvision.models import resnet34

    with open(tmp_path / "pickle.pth", "wb") as f:
        pickle.dump({"conv1.weight": [1, 2, 3]}, f)
    state = resnet34().state_dict()
    state["conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    for name, message in [
        ("pickle.pth", "refused to load it"),
        ("nan.pth", "NaN or infinite weights (conv1.weight)"),
        ("list.pth", "holds a list"),
    ]:
        with pytest.raises(InputError) as err:
            load_imagenet_body(GalaxyRegressor(), str(tmp_path / name))
        assert f"train.pretrained: {tmp_path / name}" in str(err.value) and message in str(
            err.value
        )


# --- the user's files: never inside a folder the workflow writes -------------------------------


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        (
            {
                "source": "local",
                "targets": {"oh_p50": [4]},
                "local": {"catalog": "results/catalog.csv", "images": "images"},
            },
            "local.catalog: results/catalog.csv is inside results/",
        ),
        (
            {
                "source": "local",
                "targets": {"oh_p50": [4]},
                "local": {"catalog": "cat.csv", "images": "results/cutouts/"},
            },
            "local.images: results/cutouts/ is inside results/",
        ),
        (
            {
                "source": "local",
                "targets": {"oh_p50": [4]},
                "local": {"catalog": "cat.csv", "images": "logs"},
            },
            "local.images: logs is inside logs/",
        ),
        (
            {"apply": {"new": {"model": "results/models/split-8px.pt", "images": "images"}}},
            "apply.new.model: results/models/split-8px.pt is not a model this config trains",
        ),
        (
            {"apply": {"new": {"model": "results/models/oh_p50-8px.pt", "images": "images"}}},
            "apply.new.model: results/models/oh_p50-8px.pt is not a model this config trains",
        ),
        (
            {
                "apply": {
                    "new": {
                        "model": "results/models/oh_p50-4px.pt",
                        "positions": "results/catalog.csv",
                    }
                }
            },
            "apply.new.positions: results/catalog.csv is inside results/",
        ),
        (
            {"apply": {"new": {"model": "nowhere.pt", "images": "images"}}},
            "apply.new.model: nowhere.pt is not a file",
        ),
        ({"targets": {"objID": [4]}}, "targets.objID: objID is an identifier"),
    ],
)
def test_user_files_in_output_folders_and_stale_models_are_refused_before_any_job(
    tmp_path, patch, named
):
    results = tmp_path / "results"
    (results / "cutouts").mkdir(parents=True)
    (results / "models").mkdir()
    user_files = {
        results / "catalog.csv": b"objID,oh_p50\n1,8.9\n",
        results / "cutouts" / "1.jpg": jpeg_of(np.zeros((16, 16, 3), np.uint8)),
        results / "models" / "oh_p50-8px.pt": b"an earlier run's model",
        tmp_path / "cat.csv": b"objID,oh_p50\n1,8.9\n",
    }
    for path, data in user_files.items():
        path.write_bytes(data)
    (tmp_path / "images").mkdir()
    (tmp_path / "logs").mkdir()
    cfg = yaml.safe_load(TINY.read_text())
    cfg["targets"] = {"oh_p50": [16, 4]}
    cfg |= patch
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "--cores", "1", "--configfile", str(tmp_path / "cfg.yaml"), workdir=tmp_path, check=False
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and named in text and "Traceback" not in text, text[-2000:]
    assert all(path.read_bytes() == data for path, data in user_files.items())
    assert sorted(p.name for p in results.rglob("*")) == [
        "1.jpg",
        "catalog.csv",
        "cutouts",
        "models",
        "oh_p50-8px.pt",
    ]


# --- an earlier configuration's outputs: flagged, never passed off as current -----------------


def test_outputs_of_an_earlier_config_are_flagged_stale(tiny_run_once, tmp_path):
    work = copy_run(tiny_run_once, tmp_path / "run")
    left = [
        "results/figures/old_figure.png",
        "results/models/oh_p50-64px.pt",
        "results/models/oh_p50-64px/seed3.pt",
        "results/predictions/oh_p50-64px.csv",
        "results/applied/gone.csv",
    ]
    for rel in left:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text("from an earlier config")
    run_snakemake(
        "--configfile",
        str(TINY),
        "--cores",
        "1",
        "--forcerun",
        "run_summary",
        "results/tables/run_summary.csv",
        workdir=work,
    )
    summary = pd.read_csv(work / "results" / "tables" / "run_summary.csv")
    assert sorted(summary.loc[summary["stage"] == "stale", "item"]) == sorted(left)
    proc = run_snakemake("-n", "--configfile", str(TINY), workdir=work)
    assert "Nothing to be done" in proc.stdout + proc.stderr  # flagging them changes no result


def test_a_trailing_slash_is_the_same_folder_and_user_images_stay_as_they_are(tmp_path):
    images = tmp_path / "my images"
    images.mkdir()
    ids = [1237648700000000000 + k for k in range(12)]
    for k, obj in enumerate(ids):
        (images / f"{obj}.jpg").write_bytes(jpeg_of(np.full((16, 16, 3), 10 * k, np.uint8)))
    before = {p.name: p.read_bytes() for p in images.iterdir()}
    pd.DataFrame({"objID": [str(o) for o in ids], "oh_p50": 8.9}).to_csv(
        tmp_path / "cat.csv", index=False
    )
    cfg = yaml.safe_load(TINY.read_text()) | {
        "source": "local",
        "targets": {"oh_p50": [4]},
        "local": {"catalog": str(tmp_path / "cat.csv"), "images": str(images)},
    }
    for name, folder in (("a.yaml", str(images)), ("b.yaml", str(images) + "/")):
        cfg["local"]["images"] = folder
        (tmp_path / name).write_text(yaml.safe_dump(cfg))
    manifest = "results/cutouts/manifest.csv"
    run_snakemake(
        manifest, "--cores", "2", "--configfile", str(tmp_path / "a.yaml"), workdir=tmp_path
    )
    for config in ("a.yaml", "b.yaml"):
        proc = run_snakemake(
            "-n", manifest, "--configfile", str(tmp_path / config), workdir=tmp_path
        )
        assert "Nothing to be done" in proc.stdout + proc.stderr, config
    assert {p.name: p.read_bytes() for p in images.iterdir()} == before  # no stamp, no rewrite
    assert len(list((tmp_path / "results" / "cutouts").glob("*.jpg"))) == 12
