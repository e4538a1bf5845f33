"""`cutouts.service: legacysurvey` through real Snakemake against the viewer double: the paper's
catalog (SkyServer double) cut by the Legacy Surveys viewer, every galaxy accounted for, a kill
resumed; apply fetching as the model's images were cut; declared image mismatches."""

import time

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, kill_mid_run, run_snakemake
from fake_skyserver import FakeSkyServer, make_rows
from fake_viewer import FakeViewer
from galaxy_cnn import checks, services
from galaxy_cnn.cutouts import cutout_stamp
from galaxy_cnn.images import decode_image, jpeg_of

TARGETS = ["results/packed/index.csv"]
SIZE, SCALE = 64, 0.262


class Viewer(FakeViewer):
    """The viewer double, with positions it always fails (a persistent server error) and an
    optional delay per cutout."""

    def __init__(self, broken=(), delay=0.0):
        super().__init__()
        self.broken, self.delay = {(round(ra, 5), round(dec, 5)) for ra, dec in broken}, delay

    def answer(self, path, query):
        time.sleep(self.delay)
        answer = super().answer(path, query)
        try:
            where = (round(float(query["ra"]), 5), round(float(query["dec"]), 5))
        except (KeyError, ValueError):
            return answer
        if where in self.broken:
            return 500, "text/html", b"<h1>Server Error (500)</h1>", {}, None
        return answer


def _rows(n):
    """Galaxies inside ls-dr10's southern box of the double, but for 4 outside it, 3 on its
    edge (half blank) and 1 whose every request fails."""
    rows = make_rows(n, duplicates=0)
    for k, r in enumerate(rows):
        r["ra"], r["dec"] = 150.0 + 0.7 * k, 1.0 + (k % 25)
    for r in rows[:4]:
        r["dec"] = -40.0
    for r in rows[4:7]:
        r["dec"] = -20.0  # the footprint's edge crosses the middle of the cutout
    return rows


def _expected(rows):
    outside = {r["objID"] for r in rows[:7]}
    broken = {rows[7]["objID"]}
    return outside, broken, {r["objID"] for r in rows} - outside - broken


def _config(tmp_path, sky, viewer, **cutouts):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["sdss"]["url"] = sky.url
    cfg["legacysurvey"] = {"url": viewer.url}
    cfg["cutouts"] |= {"service": "legacysurvey", "size": SIZE, "scale": SCALE} | cutouts
    path = tmp_path / "ls.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _check_accounted(work, rows):
    outside, broken, ok = _expected(rows)
    manifest = pd.read_csv(work / "results" / "cutouts" / "manifest.csv")
    assert manifest["objID"].is_unique and set(manifest["objID"]) == {r["objID"] for r in rows}
    status = manifest.set_index("objID")["status"]
    assert set(status[status == "outside_footprint"].index) == outside
    assert set(status[status == "failed"].index) == broken
    assert set(status[status == "ok"].index) == ok
    cut = work / "results" / "cutouts"
    assert {int(p.stem) for p in cut.glob("*.jpg")} == ok  # no blank answer is ever written
    for oid in ok:
        decode_image((cut / f"{oid}.jpg").read_bytes(), SIZE)
    excluded = pd.read_csv(work / "results" / "excluded.csv")
    reasons = excluded.set_index("objID")["reason"]
    assert set(reasons.index) == outside | broken
    assert all("outside_footprint" in reasons[o] for o in outside)
    assert "blank" in reasons[rows[4]["objID"]] and "failed" in reasons[rows[7]["objID"]]
    packed = pd.read_csv(work / "results" / "packed" / "index.csv")
    assert set(packed["objID"]) == ok  # blank or partly blank answers are never packed
    return manifest


def test_sdss_catalog_cut_by_the_viewer_accounts_for_every_galaxy(tmp_path):
    rows = _rows(60)
    with FakeSkyServer(rows) as sky, Viewer(broken=[(rows[7]["ra"], rows[7]["dec"])]) as viewer:
        cfg = _config(tmp_path, sky, viewer)
        run_snakemake("--configfile", str(cfg), "--cores", "2", *TARGETS, workdir=tmp_path)
        asked = viewer.cutout_requests("/cutout.jpg")
    manifest = _check_accounted(tmp_path, rows)
    assert manifest.loc[manifest["status"] == "failed", "attempts"].eq(4).all()
    assert not sky.cutout_requests  # SkyServer gave the catalog only
    keys = ("layer", "bands", "pixscale", "size")
    params = {tuple(q.params[k] for k in keys) for q in asked}
    assert params == {("ls-dr10", "griz", "0.262", "64")}
    record = {"service": "legacysurvey", "layer": "ls-dr10", "bands": "griz", "format": "jpeg"}
    made = yaml.safe_load((tmp_path / "results" / "cutouts" / "manifest.json").read_text())
    assert made["image"] == record | {"size": SIZE, "scale": SCALE}
    assert made["by_status"] == {"ok": 52, "outside_footprint": 7, "failed": 1}
    report = yaml.safe_load((tmp_path / "results" / "packed" / "report.json").read_text())
    assert report["cutouts"] == {"source": "sdss"} | record | {"size": SIZE, "scale": SCALE}


def test_a_killed_download_from_the_viewer_resumes_to_the_same_result(tmp_path):
    rows = _rows(120)
    with (
        FakeSkyServer(rows) as sky,
        Viewer(broken=[(rows[7]["ra"], rows[7]["dec"])], delay=0.05) as viewer,
    ):
        cfg = _config(tmp_path, sky, viewer, concurrency=2, format="fits")
        cut = tmp_path / "results" / "cutouts"
        kill_mid_run(
            *("--configfile", str(cfg), "--cores", "2", *TARGETS),
            workdir=tmp_path,
            ready=lambda: len(list(cut.glob("*.jpg"))) >= 25,
        )
        kept = {p.name: p.stat().st_mtime_ns for p in cut.glob("*.jpg")}
        assert 25 <= len(kept) < 112, "the kill must land mid-download"
        before = len(viewer.cutout_requests())
        viewer.delay = 0.0
        run_snakemake("--unlock", "--configfile", str(cfg), workdir=tmp_path)
        run_snakemake("--configfile", str(cfg), "--cores", "2", *TARGETS, workdir=tmp_path)
        again = viewer.cutout_requests()[before:]
    _check_accounted(tmp_path, rows)
    fetched = {(q.params["ra"], q.params["dec"]) for q in again}
    assert len(fetched) <= 120 - len(kept) + 2, "verified files are not fetched again"
    assert all(p.stat().st_mtime_ns == kept[p.name] for p in cut.glob("*.jpg") if p.name in kept)
    assert {q.path for q in again} <= {"/cutout.fits", "/cutout.jpg"}  # jpg: no-overlap probes


# --- apply: the model's own service, layer, bands, size and scale ---------------------------


def _model(path, cutouts):
    from galaxy_cnn.model import GalaxyRegressor, save_model

    save_model([GalaxyRegressor(8.9, 0.2)], str(path), {"target": "oh_p50", "size": 8} | cutouts)
    return str(path)


def _apply_config(work, viewer, name, entry):
    cfg = yaml.safe_load((ROOT / "tests" / "configs" / "sdss.yaml").read_text())
    cfg["legacysurvey"] = {"url": viewer.url}  # sdss.url stays a closed port: never asked
    cfg["apply"] = {name: {"shards": 1} | entry}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_apply_by_positions_fetches_as_the_model_was_trained(tmp_path):
    cutouts = {"service": "legacysurvey", "layer": "ls-dr10", "bands": "gri", "format": "jpeg"}
    model = _model(tmp_path / "ls.pt", {"cutouts": cutouts | {"size": SIZE, "scale": 0.3}})
    pos = pd.DataFrame({"objID": [11, 12, 13, 14], "ra": [150.0, 151, 152, 153]})
    pos["dec"] = [1.0, 2.0, -40.0, 3.0]  # 13 is outside the footprint
    pos.to_csv(tmp_path / "pos.csv", index=False)
    with Viewer() as viewer:
        cfg = _apply_config(tmp_path, viewer, "ls", {"model": model, "positions": "pos.csv"})
        out = "results/applied/ls.csv"
        run_snakemake("--configfile", str(cfg), "--cores", "2", out, workdir=tmp_path)
        asked = viewer.cutout_requests()
    keys = ("layer", "bands", "pixscale", "size")
    got = {(q.path, *(q.params[k] for k in keys)) for q in asked}
    assert got == {("/cutout.jpg", "ls-dr10", "gri", "0.3", "64")} and len(asked) == 4
    table = pd.read_csv(tmp_path / out).set_index("objID")
    assert table.loc[13, "status"] == "outside_footprint" and np.isnan(table.loc[13, "pred"])
    assert (table.drop(index=13)["status"] == "ok").all()
    from astropy.table import Table

    header = Table.read(tmp_path / "results" / "applied" / "ls.fits").meta
    assert (header["CUTSERV"], header["CUTLAYER"], header["CUTSCALE"]) == (
        "legacysurvey",
        "ls-dr10",
        0.3,
    )


def test_a_declared_mismatch_is_refused_unless_allowed(tmp_path):
    model = _model(tmp_path / "sdss.pt", {"cutouts": {"size": SIZE, "scale": 0.296}})  # old: sdss
    folder = tmp_path / "ls_images"
    folder.mkdir()
    for k in range(1, 4):
        (folder / f"{k}.jpg").write_bytes(jpeg_of(np.full((SIZE, SIZE, 3), 40 * k, np.uint8)))
    entry = {"model": model, "images": str(folder), "service": "legacysurvey"}
    entry |= {"layer": "ls-dr10", "scale": 0.262}
    with Viewer() as viewer:
        cfg = _apply_config(tmp_path, viewer, "mine", entry)
        out = "results/applied/mine.csv"
        proc = run_snakemake(
            "--configfile", str(cfg), "--cores", "2", out, workdir=tmp_path, check=False
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Traceback" not in text
        assert (
            'apply.mine: images declared service legacysurvey (ls-dr10, 0.262"/px) but the model '
            'was trained on sdss at 0.296"/px' in text
        ), text[-2000:]
        cfg = _apply_config(tmp_path, viewer, "mine", entry | {"allow_mismatch": True})
        run_snakemake("--configfile", str(cfg), "--cores", "2", out, workdir=tmp_path)
    summary = yaml.safe_load((tmp_path / "results" / "applied" / "mine.json").read_text())
    assert "declared service legacysurvey" in summary["mismatch"]
    from astropy.io import fits

    header = fits.getheader(tmp_path / "results" / "applied" / "mine.fits", 1)
    assert header["MISMATCH"] is True and "sdss at 0.296" in str(header["COMMENT"])


# --- the service's stamp, the config's checks, the shipped config --------------------------


def test_sdss_stamps_are_what_they_were_before_services():
    polite = {"concurrency": 1, "requests_per_second": 5, "retries": 1, "retry_delay": 0.1}
    polite |= {"timeout": 1}
    image = {"size": 128, "scale": 0.296}
    row = pd.DataFrame({"objID": [1], "ra": [150.5], "dec": [2.25]}).iloc[0]
    sdss = services.cutout_service({"service": "sdss", "url": "https://x/dr17"} | polite, image)
    old = cutout_stamp(
        source="sdss", url="https://x/dr17", size=128, scale=0.296, ra=150.5, dec=2.25
    )
    assert sdss.stamp_of(row) == old
    viewer = {"service": "legacysurvey", "url": "https://v", "layer": "ls-dr10", "format": "jpeg"}
    stamps = {
        services.cutout_service(viewer | polite | {"bands": bands}, image).stamp_of(row)
        for bands in ("griz", "gri")
    }
    assert len(stamps) == 2 and old not in stamps


def _cfg(**cutouts):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["cutouts"] |= cutouts
    return cfg


@pytest.mark.parametrize(
    ("cfg", "named"),
    [
        (_cfg(service="legacysurvey", layer="ls-dr11"), "unknown Legacy Surveys layer 'ls-dr11'"),
        (_cfg(service="legacysurvey", layer="ls-dr9", bands="gri"), "cutouts.bands: bands 'gri'"),
        (_cfg(service="legacysurvey", size=3200), "at most 3000 px"),
        (_cfg(bands="gri"), "cutouts.bands applies to cutouts.service: legacysurvey only"),
        (_cfg(service="legacysurvey") | {"source": "synthetic"}, "source synthetic brings"),
    ],
)
def test_bad_service_settings_are_named(cfg, named):
    problems = checks.cutout_service_problems(cfg)
    assert len(problems) == 1 and named in problems[0], problems


def test_legacysurvey_config_dry_runs(tmp_path):
    config = ROOT / "config" / "legacysurvey.yaml"
    out = run_snakemake("-n", "--configfile", str(config), workdir=tmp_path).stdout
    assert "train" in out and "cutouts_shard" in out
    cfg = yaml.safe_load(config.read_text())
    assert cfg["cutouts"]["service"] == "legacysurvey" and cfg["cutouts"]["scale"] == 0.262
    for sizes in cfg["targets"].values():
        assert all(cfg["cutouts"]["size"] % s == 0 for s in sizes)
    bad = yaml.safe_load(config.read_text())
    bad["cutouts"]["layer"] = "ls-dr11"
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(bad))
    proc = run_snakemake(
        "-n", "--configfile", str(tmp_path / "bad.yaml"), workdir=tmp_path, check=False
    )
    assert proc.returncode != 0 and "cutouts.layer: unknown" in proc.stdout + proc.stderr
