"""`source: sdss` through real Snakemake against the SkyServer double: no row lost or doubled."""

import pandas as pd
import pytest
import yaml
from conftest import ROOT, kill_mid_run, run_snakemake
from fake_skyserver import FakeSkyServer, make_rows
from galaxy_cnn.images import decode_image

TARGETS = ["results/catalog.csv", "results/cutouts/manifest.csv"]
PACKED = "results/packed/index.csv"


def _config(tmp_path, url, **cutouts):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["sdss"]["url"] = url
    cfg["cutouts"].update(cutouts)
    path = tmp_path / "sdss.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _hostile_server(rows):
    server = FakeSkyServer(rows, slow_seconds=1.5)
    server.sql_faults.extend(["500", None, "truncate", "html"])
    faults = [["500"], ["truncate"], ["drop"], ["slow"], ["html"]]
    for k, r in enumerate(rows[5:60]):
        server.cutout_faults[r["objID"]].extend(faults[k % len(faults)])
    server.always_fail.update(r["objID"] for r in rows[60:63])
    return server


def _check_results(work, rows):
    cat = pd.read_csv(work / "results" / "catalog.csv", dtype={"specObjID": str})
    unique_ids = {r["objID"] for r in rows}
    assert len(cat) == len(unique_ids) and set(cat["objID"]) == unique_ids  # every row exactly once
    manifest = pd.read_csv(work / "results" / "cutouts" / "manifest.csv")
    assert manifest["objID"].is_unique and set(manifest["objID"]) == unique_ids
    status = manifest.set_index("objID")["status"]
    outside = {r["objID"] for r in rows if r["dec"] < -25}
    broken = {r["objID"] for r in rows[60:63]}
    assert set(status[status == "outside_footprint"].index) == outside
    assert set(status[status == "failed"].index) == broken
    ok = set(status[status == "ok"].index)
    assert ok == unique_ids - outside - broken
    jpgs = {int(p.stem) for p in (work / "results" / "cutouts").glob("*.jpg")}
    assert jpgs == ok
    for oid in ok:
        decode_image((work / "results" / "cutouts" / f"{oid}.jpg").read_bytes(), 64)
    return manifest


def test_catalog_and_cutouts_against_a_hostile_server(tmp_path):
    rows = make_rows(90, duplicates=3, outside=4)
    with _hostile_server(rows) as server:
        cfg = _config(tmp_path, server.url)
        run_snakemake("--configfile", str(cfg), "--cores", "2", *TARGETS, workdir=tmp_path)
    manifest = _check_results(tmp_path, rows)
    assert manifest.loc[manifest["status"] == "failed", "attempts"].eq(4).all()
    meta = yaml.safe_load((tmp_path / "results" / "catalog.json").read_text())
    assert meta["duplicate_objID_dropped"] == 3 and meta["data_release"] == "dr17"


def test_killed_download_resumes_to_the_same_result(tmp_path):
    rows = make_rows(150, duplicates=2, outside=4)
    with _hostile_server(rows) as server:
        server.cutout_delay = 0.05
        cfg = _config(tmp_path, server.url, concurrency=2)
        cut = tmp_path / "results" / "cutouts"
        kill_mid_run(
            "--configfile",
            str(cfg),
            "--cores",
            "2",
            *TARGETS,
            workdir=tmp_path,
            ready=lambda: len(list(cut.glob("*.jpg"))) >= 30,
        )
        n_before = len(list(cut.glob("*.jpg")))
        assert 30 <= n_before < 140, "the kill must land mid-download"
        assert not (cut / "manifest.csv").exists()
        for p in cut.glob("*.jpg"):  # no half-written file survives under a final name
            decode_image(p.read_bytes(), 64)
        (cut / ".999.jpg.part").write_bytes(
            b"half"
        )  # left by a galaxy since removed from the catalog
        requests_before = sum(server.cutout_requests.values())
        run_snakemake("--unlock", "--configfile", str(cfg), workdir=tmp_path)
        run_snakemake("--configfile", str(cfg), "--cores", "2", *TARGETS, workdir=tmp_path)
        requests_after = sum(server.cutout_requests.values()) - requests_before
    _check_results(tmp_path, rows)
    assert requests_after < 150 + 40, "verified files are not fetched again"
    assert not list(cut.glob(".*.part"))


def test_too_many_missing_cutouts_stop_the_run(tmp_path):
    rows = make_rows(30, duplicates=0, outside=10)
    with FakeSkyServer(rows) as server:
        cfg = _config(tmp_path, server.url)
        proc = run_snakemake(
            "--configfile", str(cfg), "--cores", "2", PACKED, workdir=tmp_path, check=False
        )
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "cutouts.max_missing_fraction=0.2" in text and "10 of 30 galaxies read" in text
    assert "10 no cutout (outside_footprint)" in text and "results/excluded.csv" in text
    excluded = pd.read_csv(tmp_path / "results" / "excluded.csv")
    assert len(excluded) == 10 and excluded["reason"].str.contains("HTTP 404").all()
    assert not (tmp_path / "results" / "packed" / "images.npy").exists()


@pytest.mark.slow
def test_whole_dag_with_sdss_source(tmp_path):
    rows = make_rows(80, duplicates=1, outside=2)
    with FakeSkyServer(rows) as server:
        cfg = _config(tmp_path, server.url)
        run_snakemake("--configfile", str(cfg), "--cores", "2", workdir=tmp_path)
    table = pd.read_csv(tmp_path / "results" / "metrics.csv")
    assert sorted(table["size"]) == [1, 8] and (table["n"] > 10).all()
    assert (tmp_path / "results" / "figures" / "pred_vs_true.png").is_file()
