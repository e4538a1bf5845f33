"""`source: local` on the 500 real SDSS cutouts, end to end, and the model applied to new images."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, run_snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, shared_data_module):
    shared = shared_data_module
    work = tmp_path_factory.mktemp("local")
    images = work / "my_images"
    shutil.copytree(shared / "sdss-sample" / "images", images)
    cat = pd.read_csv(shared / "sdss-sample" / "catalog.csv", dtype={"objID": "int64"})
    (images / "1.jpg").write_bytes(b"<html>not an image</html>")  # unreadable: counted, excluded
    shutil.copy(images / f"{cat['objID'][0]}.jpg", images / "2.jpg")
    from PIL import Image

    Image.new("RGB", (64, 64)).save(images / "3.png")  # wrong size: counted, excluded
    extra = pd.DataFrame({"objID": [1, 3], "oh_p50": [8.9, 8.9], "split": ["train", "train"]})
    pd.concat([cat, extra]).to_csv(work / "my_catalog.csv", index=False)
    new = work / "new_galaxies"
    new.mkdir()
    for o in cat["objID"][:20]:
        shutil.copy(images / f"{o}.jpg", new / f"{o}.jpg")
    (new / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
    cfg |= {
        "source": "local",
        "local": {"catalog": str(work / "my_catalog.csv"), "images": str(images)},
        "cutouts": {"size": 128, "scale": 0.296, "shards": 2},
        "targets": {"oh_p50": [32, 8]},
        "apply": {
            "new": {
                "model": "results/models/oh_p50-32px.pt",
                "images": str(new),
                "catalog": str(work / "my_catalog.csv"),
            }
        },
    }
    cfg["train"] |= {"batch_size": 32}
    (work / "local.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake("--configfile", str(work / "local.yaml"), "--cores", "2", workdir=work)
    return work, cat


@pytest.fixture(scope="module")
def shared_data_module():
    from conftest import SHARED_DATA

    if not (SHARED_DATA / "sdss-sample").is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def test_bad_images_are_counted_not_dropped(local_run):
    work, cat = local_run
    manifest = pd.read_csv(work / "results" / "cutouts" / "manifest.csv")
    assert len(manifest) == len(cat) + 2
    status = manifest.set_index("objID")["status"]
    assert (status.drop([1, 3]) == "ok").all()
    assert status[1] == "failed" and status[3] == "failed"
    assert "expected 128x128" in manifest.set_index("objID").loc[3, "error"]
    summary = pd.read_csv(work / "results" / "tables" / "run_summary.csv").set_index("item")
    assert (
        summary.loc["excluded before the split", "value"] == "2"
        and "2 failed" in summary.loc["with a cutout", "note"]
    )
    excluded = pd.read_csv(work / "results" / "excluded.csv").set_index("objID")
    assert sorted(excluded.index) == [1, 3] and "3.png" in excluded.loc[3, "reason"]


def test_every_figure_for_a_catalog_without_mass_or_magnitudes(local_run):
    work, cat = local_run
    r = work / "results"
    for fig in ["gallery", "distributions", "pred_vs_true", "metrics_vs_size"]:
        assert (r / "figures" / f"{fig}.png").stat().st_size > 5000
    assert not (r / "figures" / "mzr.png").exists()  # no stellar mass in this catalog
    rf = pd.read_csv(r / "baselines.csv")
    assert rf["rmse"].isna().all() and rf["note"].str.contains("modelMag").all()
    pred = pd.read_csv(r / "predictions" / "oh_p50-32px.csv")
    truth = cat.set_index("objID").loc[pred["objID"], "oh_p50"].to_numpy()
    np.testing.assert_allclose(pred["true"], truth, atol=1e-5)
    assert 0.05 < np.std(pred["pred"] - pred["true"]) < 0.5


def test_applying_the_model_to_a_new_folder(local_run):
    work, cat = local_run
    out = pd.read_csv(work / "results" / "applied" / "new.csv", dtype={"objID": "Int64"})
    meta = json.loads((work / "results" / "applied" / "new.json").read_text())
    ok = out[out["status"] == "ok"]
    assert sorted(ok["objID"]) == sorted(cat["objID"][:20])
    failed = out[
        out["status"] != "ok"
    ]  # one row per input: the unreadable file is listed, not dropped
    assert list(failed["input"]) == ["broken.jpg"] and (failed["reason"].str.len() > 0).all()
    assert np.isfinite(ok["pred"]).all() and (ok["pred_std"] > 0).all()
    # same model, same images, same TTA: the applied predictions equal the test-split predictions
    test_pred = pd.read_csv(
        work / "results" / "predictions" / "oh_p50-32px.csv", dtype={"objID": "Int64"}
    )
    both = ok.merge(test_pred, on="objID", suffixes=("", "_test"))
    assert len(both) > 0
    np.testing.assert_allclose(both["pred"], both["pred_test"], atol=1e-4)
    np.testing.assert_allclose(both["pred_std"], both["pred_std_test"], atol=1e-4)
    truth = cat.set_index("objID").loc[ok["objID"].astype("int64"), "oh_p50"]
    np.testing.assert_allclose(ok["true"], truth, atol=1e-5)
    assert meta["by_status"] == {"ok": 20, "failed": 1}
    assert meta["model"]["target"] == "oh_p50" and meta["model"]["size"] == 32
    assert meta["model"]["cutouts"] == {
        "size": 128,
        "scale": 0.296,
        "source": "local",
        "service": "local",
    }
    # the Python API gives the same numbers as the rule
    from galaxy_cnn.apply import apply_model

    apply_model(
        str(work / "results" / "models" / "oh_p50-32px.pt"),
        str(work / "new_galaxies"),
        str(work / "api.csv"),
        device="cpu",
    )
    api = pd.read_csv(work / "api.csv", dtype={"objID": "Int64"})
    api_ok = api[api["status"] == "ok"].sort_values("objID")
    np.testing.assert_allclose(api_ok["pred"], ok.sort_values("objID")["pred"], atol=1e-5)
