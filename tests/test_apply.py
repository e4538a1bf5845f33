"""Applying a trained model to galaxies without spectra: image folders, positions and SkyServer
queries (against the SkyServer double), sharded and streamed, merged into CSV and FITS."""

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, kill_mid_run, run_snakemake
from fake_skyserver import FakeSkyServer, make_rows

pytestmark = pytest.mark.slow
MODEL = "results/models/oh_p50-8px.pt"


@pytest.fixture(scope="module")
def sky():
    """The SkyServer double with 120 galaxies: the first 60 train a model, the rest are 'new'."""
    rows = make_rows(120, duplicates=0, outside=0)
    for r in rows[100:104]:
        r["dec"] = -50.0  # outside the footprint: 404
    with FakeSkyServer(rows) as server:
        server.always_fail.update(r["objID"] for r in rows[104:106])
        yield server, rows


@pytest.fixture(scope="module")
def trained(sky, tmp_path_factory):
    server, rows = sky
    work = tmp_path_factory.mktemp("apply")
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["sdss"] |= {"url": server.url, "limit": 60}
    cfg["targets"] = {"oh_p50": [8]}
    (work / "base.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake("--configfile", str(work / "base.yaml"), "--cores", "2", MODEL, workdir=work)
    return work, cfg


def _config(work, cfg, name, entry):
    cfg = yaml.safe_load(yaml.safe_dump(cfg)) | {
        "apply": {name: {"model": MODEL, "shards": 3} | entry}
    }
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _positions(work, rows):
    new = rows[60:]
    table = pd.DataFrame(
        {
            "objID": [str(r["objID"]) for r in new],
            "ra": [r["ra"] for r in new],
            "dec": [r["dec"] for r in new],
            "field": [f"f{k % 3}" for k in range(len(new))],
        }
    )
    table.loc[len(table)] = ["1.2376487e+18", 10.0, 10.0, "f9"]  # a rounded objID: rejected, listed
    table.loc[len(table)] = [str(new[0]["objID"] + 1), 500.0, 10.0, "f9"]  # an impossible ra
    table.to_csv(work / "positions.csv", index=False)
    return table


def _check_positions_result(work, name, table, rows):
    out = pd.read_csv(
        work / "results" / "applied" / f"{name}.csv", dtype={"objID": "Int64", "input": str}
    )
    assert len(out) == len(table)  # one row per input position, each once
    assert sorted(out["input"]) == sorted(table["objID"])
    status = out.set_index("input")["status"]
    outside = {str(r["objID"]) for r in rows[100:104]}
    failing = {str(r["objID"]) for r in rows[104:106]}
    assert set(status[status == "outside_footprint"].index) == outside
    assert set(status[status == "failed"].index) == failing
    assert set(status[status == "rejected"].index) == {"1.2376487e+18", str(rows[60]["objID"] + 1)}
    ok = out[out["status"] == "ok"]
    assert len(ok) == 60 - 6 and np.isfinite(ok["pred"]).all() and (ok["pred_std"] > 0).all()
    assert (
        out.loc[out["status"] != "ok", "pred"].isna().all()
        and (out.loc[out["status"] != "ok", "reason"] != "").all()
    )
    assert set(ok["field"]) <= {"f0", "f1", "f2"}  # carried through
    return out


def test_positions_and_a_kill_and_rerun(sky, trained):
    server, rows = sky
    work, cfg = trained
    table = _positions(work, rows)
    path = _config(work, cfg, "pos", {"positions": str(work / "positions.csv")})
    server.cutout_delay = 0.05
    cut = work / "results" / "applied" / "pos" / "cutouts"
    kill_mid_run(
        "--configfile",
        str(path),
        "--cores",
        "2",
        "results/applied/pos.csv",
        workdir=work,
        ready=lambda: len(list(cut.glob("*.jpg"))) >= 15,
    )
    assert 15 <= len(list(cut.glob("*.jpg"))) < 54, "the kill must land mid-download"
    requests_before = sum(server.cutout_requests.values())
    server.cutout_delay = 0.0
    run_snakemake("--unlock", "--configfile", str(path), workdir=work)
    run_snakemake(
        "--configfile", str(path), "--cores", "2", "results/applied/pos.csv", workdir=work
    )
    again = sum(server.cutout_requests.values()) - requests_before
    assert again < 60 - 15 + 3 * 4 + 10, "verified cutouts are not fetched again"
    out = _check_positions_result(work, "pos", table, rows)
    # the same model on the same images through the folder path gives the same numbers
    folder = _config(work, cfg, "folder", {"images": str(cut)})
    run_snakemake(
        "--configfile", str(folder), "--cores", "2", "results/applied/folder.csv", workdir=work
    )
    via_folder = pd.read_csv(work / "results" / "applied" / "folder.csv", dtype={"objID": "Int64"})
    both = out[out["status"] == "ok"].merge(via_folder, on="objID", suffixes=("", "_folder"))
    assert len(both) == 54
    np.testing.assert_allclose(both["pred"], both["pred_folder"], atol=1e-5)
    np.testing.assert_allclose(both["pred_std"], both["pred_std_folder"], atol=1e-5)
    # the FITS table: exact 64-bit objIDs, units, the model's provenance
    from astropy.table import Table

    fits = Table.read(work / "results" / "applied" / "pos.fits")
    assert fits["objID"].dtype.kind == "i" and fits["objID"].dtype.itemsize == 8
    assert str(fits["pred"].unit) == "dex" and str(fits["ra"].unit) == "deg"
    fits_ok = fits[fits["status"] == "ok"]
    assert sorted(int(v) for v in fits_ok["objID"]) == sorted(int(v) for v in both["objID"])
    assert (
        fits.meta["TARGET"] == "oh_p50" and fits.meta["MODELPX"] == 8 and fits.meta["CUTPX"] == 64
    )
    assert int(fits["objID"].mask.sum()) == 1  # the rounded objID has none


def test_a_query(sky, trained):
    server, rows = sky
    work, cfg = trained
    sql = (
        "SELECT objID, ra, dec, -- positions\n  modelMag_r AS r  -- r magnitude\n"
        "FROM Galaxy WHERE ra BETWEEN 0 AND 180;"
    )
    path = _config(work, cfg, "region", {"query": sql})
    cfg_q = yaml.safe_load(path.read_text())
    cfg_q["sdss"]["page_size"] = 25
    path.write_text(yaml.safe_dump(cfg_q))
    run_snakemake(
        "--configfile", str(path), "--cores", "2", "results/applied/region.csv", workdir=work
    )
    out = pd.read_csv(work / "results" / "applied" / "region.csv", dtype={"objID": "Int64"})
    want = {r["objID"] for r in rows if 0 <= r["ra"] <= 180}
    assert set(out["objID"]) == want and out["objID"].is_unique
    assert any("q.objID >" in q for q in server.sql_log)
    ok = out["status"] == "ok"
    assert np.isfinite(out.loc[ok, "pred"]).all() and "r" in out.columns


def test_an_outage_stops_apply_and_a_plain_rerun_retries(sky, trained):
    server, rows = sky
    work, cfg = trained
    new = rows[60:70]
    pd.DataFrame(
        {
            "objID": [r["objID"] for r in new],
            "ra": [r["ra"] for r in new],
            "dec": [r["dec"] for r in new],
        }
    ).to_csv(work / "outage.csv", index=False)
    path = _config(work, cfg, "outage", {"positions": str(work / "outage.csv"), "shards": 1})
    down = {r["objID"] for r in new}
    server.always_fail.update(down)  # SkyServer answers 500 to these while it is down
    try:
        proc = run_snakemake(
            "--configfile",
            str(path),
            "--cores",
            "2",
            "results/applied/outage.csv",
            workdir=work,
            check=False,
        )
    finally:
        server.always_fail.difference_update(down)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "10 of 10 cutouts failed to download" in text, text[-2000:]
    assert "run the same command again" in text and "Traceback" not in text
    run_snakemake(
        "--configfile", str(path), "--cores", "2", "results/applied/outage.csv", workdir=work
    )
    out = pd.read_csv(work / "results" / "applied" / "outage.csv")
    assert (out["status"] == "ok").all() and len(out) == 10


def test_apply_with_no_prediction_at_all_fails(sky, trained, tmp_path):
    server, rows = sky
    work, cfg = trained
    outside = rows[100:104]  # outside the footprint: no cutout, no prediction
    pd.DataFrame(
        {
            "objID": [r["objID"] for r in outside],
            "ra": [r["ra"] for r in outside],
            "dec": [r["dec"] for r in outside],
        }
    ).to_csv(work / "outside.csv", index=False)
    big = tmp_path / "big"
    big.mkdir()
    from galaxy_cnn.images import jpeg_of

    for k in range(1, 4):  # 128 px images for a model of 64 px cutouts
        (big / f"{k}.jpg").write_bytes(jpeg_of(np.full((128, 128, 3), 40 * k, np.uint8)))
    for name, entry, why in [
        ("outside", {"positions": str(work / "outside.csv")}, "4 outside_footprint"),
        ("big", {"images": str(big)}, "image is 128x128 px, expected 64x64"),
    ]:
        path = _config(work, cfg, name, entry | {"shards": 1})
        proc = run_snakemake(
            "--configfile",
            str(path),
            "--cores",
            "2",
            f"results/applied/{name}.csv",
            workdir=work,
            check=False,
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "no prediction for any of the" in text and why in text, (
            text[-2000:]
        )
        assert (
            "Traceback" not in text and not (work / "results" / "applied" / f"{name}.csv").exists()
        )
