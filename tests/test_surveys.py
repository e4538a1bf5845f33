"""The synthetic universe seen by the Legacy Surveys, and two runs of the same galaxies compared."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TINY, copy_run, run_snakemake
from galaxy_cnn import comparison, layers, metrics, synthetic
from galaxy_cnn.errors import InputError
from galaxy_cnn.images import decode_image
from galaxy_cnn.legacysurvey import blank_rgb
from galaxy_cnn.synthetic import render


@pytest.fixture(scope="module")
def galaxies():
    cat, truth, _ = synthetic.draw_population(40, 11, synthetic.PopulationSettings())
    return cat.merge(truth, on="objID")


def test_a_five_sigma_galaxy_at_the_depth_is_five_sigma():
    """The renderer's sky noise gives a 0.45" exponential galaxy of the published depth a
    matched-filter S/N of 5, measured over noise realisations (the flux of each by the optimal
    linear estimate, its scatter against the flux)."""
    import galsim

    ls = synthetic.render_settings("legacysurvey")
    unit = np.stack(
        [
            galsim.Convolve(
                galsim.Exponential(half_light_radius=0.45),
                galsim.Moffat(beta=3.5, fwhm=render.LS_SEEING[band]),
            )
            .drawImage(nx=32, ny=32, scale=ls.native_scale)
            .array
            for band in ls.bands
        ]
    )
    flux = np.array([10 ** (-0.4 * (render.LS_DEPTH[b] - 22.5)) for b in ls.bands])
    n = 5000  # realisations, side by side in one image per band
    galaxies = np.tile(flux[:, None, None] * unit, (1, n, 1))
    noisy = render._sky(galaxies, np.random.default_rng(5), ls).reshape(4, n, 32, 32)
    weights = (unit / (unit**2).sum(axis=(1, 2), keepdims=True))[:, None]
    estimates = (noisy * weights).sum(axis=(2, 3))
    snr = flux / estimates.std(axis=1)
    assert np.allclose(estimates.mean(axis=1), flux, rtol=0.03)
    assert np.all((4.6 < snr) & (snr < 5.4)), snr


def test_legacy_survey_cutouts_look_like_the_viewers(galaxies):
    """Sky-subtracted griz in the viewer's ls-dr10 colours: the sky at least as bright as the
    colour of zero flux (the mapping lifts noise), the galaxy brighter."""
    ls = synthetic.render_settings("legacysurvey")
    zero = blank_rgb("ls-dr10", "griz").astype(float)
    for row in galaxies.head(6).itertuples():
        seed = synthetic.galaxy_seed(11, row.objID)
        rgb = synthetic.render_galaxy(row, 64, 0.296, seed, ls)
        assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
        border = np.median(np.concatenate([rgb[:3].reshape(-1, 3), rgb[-3:].reshape(-1, 3)]), 0)
        assert np.all(border >= zero - 2), border
        assert rgb[30:34, 30:34].mean() > border.mean() + 20
    # the sky alone: zero median and uncorrelated noise of the depth's sigma in every band
    sky = render._sky(np.zeros((4, 256, 256)), np.random.default_rng(0), ls).reshape(4, -1)
    sigma = np.asarray(ls.sky_sigma)
    assert np.all(np.abs(np.median(sky, axis=1)) < 0.02 * sigma)
    assert np.allclose(sky.std(axis=1), sigma, rtol=0.02)


def test_the_same_galaxy_is_sharper_and_deeper_in_the_legacy_surveys(galaxies):
    """Same galaxies, same neighbours: the Legacy Surveys seeing is narrower than SDSS's, and its
    sky noise per arcsec^2 lower."""
    ls, sdss = synthetic.render_settings("legacysurvey"), synthetic.render_settings("sdss")
    seeing = [
        render._seeing(row, synthetic.galaxy_seed(11, row.objID), ls)
        for row in galaxies.itertuples()
    ]
    assert 1.05 < np.median(seeing) < 1.32
    assert np.median(seeing) < np.median(galaxies.seeing_fwhm)
    r = ls.bands.index("r")
    assert ls.sky_sigma[r] / ls.native_scale < sdss.sky_sigma[1] / sdss.native_scale


def test_sdss_is_the_default_rendering_and_bad_overrides_are_named(galaxies):
    row = next(galaxies.itertuples())
    seed = synthetic.galaxy_seed(11, row.objID)
    default = synthetic.render_galaxy(row, 32, 0.296, seed, synthetic.RenderSettings())
    named = synthetic.render_galaxy(row, 32, 0.296, seed, synthetic.render_settings("sdss"))
    assert (default == named).all()
    with pytest.raises(InputError, match="synthetic.survey must be one of"):
        synthetic.render_settings("hsc")
    with pytest.raises(InputError, match=r"cannot set \['bands'\]"):
        synthetic.render_settings("legacysurvey", {"bands": "gri"})
    with pytest.raises(InputError, match="sky_sigma needs one value per band of griz"):
        synthetic.render_settings("legacysurvey", {"sky_sigma": [0.01, 0.01, 0.01]})
    with pytest.raises(InputError, match=r"has no \['seeing'\]; its keys are .*'sky_sigma'"):
        synthetic.render_settings("sdss", {"seeing": 1.0})


def test_the_viewer_client_and_the_renderer_share_one_colour_mapping():
    """The mapping the client decodes FITS with is the one the renderer draws JPEGs with."""
    from galaxy_cnn.images import encode
    from galaxy_cnn.legacysurvey import bands_to_rgb

    cube = np.random.default_rng(0).uniform(0, 2, (4, 8, 8)).astype(np.float32)
    assert layers.layer_info("ls-dr10").mapping == "ls-dr10"
    assert np.array_equal(bands_to_rgb(cube, "griz"), encode.viewer_ls_dr10_rgb(list(cube), "griz"))


def _predictions(path, objids, true, residuals):
    pd.DataFrame({"objID": objids, "true": true, "pred": true + residuals}).to_csv(
        path, index=False
    )
    return str(path)


def _compare(tmp_path, this, other, shifted, other_images=None):
    """compare_runs on one size of 64 px at 0.296"/px, labelled LS and SDSS."""
    grid = {"size": 64, "scale": 0.296}
    record = tmp_path / "other-model.json"
    record.write_text(json.dumps({"cutouts": other_images or grid}))
    return comparison.compare_runs(
        this=[this],
        other=[other],
        other_model=[shifted],
        other_model_record=str(record),
        sizes=[64],
        labels=("LS", "SDSS"),
        other_run="elsewhere",
        images=grid,
        out_csv=str(tmp_path / "t.csv"),
        out_md=str(tmp_path / "t.md"),
        out_meta=str(tmp_path / "t.json"),
    )


def test_comparison_recovers_known_scatters_and_a_domain_shift(tmp_path):
    rng = np.random.default_rng(1)
    n = 3000
    objids, true = np.arange(n) + 10**17, rng.normal(9.0, 0.2, n)
    this = _predictions(tmp_path / "a.csv", objids, true, rng.normal(0, 0.05, n))
    other = _predictions(tmp_path / "b.csv", objids[::-1], true[::-1], rng.normal(0, 0.10, n))
    shifted = _predictions(tmp_path / "c.csv", objids, true, 0.2 + rng.normal(0, 0.15, n))
    table = _compare(tmp_path, this, other, shifted)
    row = table.iloc[0]
    for name, expected in [
        ("nmad", 0.05),
        ("other_nmad", 0.10),
        ("nmad_ratio", 0.5),
        ("other_model_bias", 0.2),
        ("other_model_nmad", 0.15),
    ]:
        assert row[f"{name}_lo"] <= row[name] <= row[f"{name}_hi"]
        assert abs(row[name] - expected) < 4 * (row[f"{name}_hi"] - row[f"{name}_lo"]), name
    assert row.n == n and "LS / SDSS" in (tmp_path / "t.md").read_text()
    # paired: the same galaxies resampled for both runs, so identical residuals give exactly 1
    row = _compare(tmp_path, this, this, shifted).iloc[0]
    assert row.nmad_ratio == row.nmad_ratio_lo == row.nmad_ratio_hi == 1


def test_comparison_refuses_runs_of_different_galaxies(tmp_path):
    a = _predictions(tmp_path / "a.csv", [1, 2, 3], np.zeros(3), np.zeros(3))
    b = _predictions(tmp_path / "b.csv", [1, 2, 4], np.zeros(3), np.zeros(3))
    with pytest.raises(InputError, match="not of the same test galaxies"):
        comparison.paired_residuals(a, b, a)
    with pytest.raises(InputError, match=r'other run\'s cutouts are 64 px of 0.3"/px'):
        _compare(tmp_path, a, a, a, other_images={"size": 64, "scale": 0.3})
    c = _predictions(tmp_path / "c.csv", [1, 2, 3], np.ones(3), np.zeros(3))
    with pytest.raises(InputError, match="different true values"):
        comparison.paired_residuals(a, c, a)


def test_a_comparison_with_no_run_or_another_grid_stops_before_any_job(tmp_path):
    config = yaml.safe_load(TINY.read_text())
    config["compare"] = {"run": "../other"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    here, other = tmp_path / "here", tmp_path / "other"

    def dry_run() -> str:
        proc = run_snakemake(
            "-n", "--configfile", str(tmp_path / "c.yaml"), workdir=here, check=False
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Traceback" not in text, text[-2000:]
        return text

    assert "compare.run: ../other holds no results/ folder" in dry_run()
    size = max(config["targets"]["oh_p50"])
    record = other / f"results/models/oh_p50-{size}px.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"cutouts": {"size": config["cutouts"]["size"], "scale": 0.262}}))
    text = dry_run()
    assert "the other run's cutouts are" in text and '0.262"/px' in text


@pytest.fixture(scope="module")
def two_surveys(tiny_run_once, tmp_path_factory):
    """The tiny SDSS-like run, and the same galaxies seen by the Legacy Surveys compared with it."""
    base = tmp_path_factory.mktemp("surveys")
    sdss = copy_run(tiny_run_once, base / "sdss")
    config = yaml.safe_load(TINY.read_text())
    config["synthetic"]["survey"] = "legacysurvey"
    config["targets"] = {"oh_p50": [16, 4]}
    config["compare"] = {"run": "../sdss", "label": "LS-like", "other_label": "SDSS-like"}
    (base / "ls.yaml").write_text(yaml.safe_dump(config))
    ls = base / "ls"
    run_snakemake("--configfile", str(base / "ls.yaml"), "--cores", "2", workdir=ls)
    return sdss, ls


def test_a_legacy_survey_run_is_compared_with_the_sdss_run(two_surveys):
    sdss, ls = two_surveys
    table = pd.read_csv(ls / "results/comparison/comparison.csv")
    assert list(table["size"]) == [16, 4]
    for size in (16, 4):
        mine = pd.read_csv(ls / f"results/predictions/oh_p50-{size}px.csv")
        theirs = pd.read_csv(sdss / f"results/predictions/oh_p50-{size}px.csv")
        shifted = pd.read_csv(ls / f"results/comparison/oh_p50-{size}px-other-model.csv")
        assert set(mine.objID) == set(theirs.objID) == set(shifted.objID)
        row = table[table["size"] == size].iloc[0]
        assert row.n == len(mine)
        assert row.nmad == pytest.approx(metrics.nmad(mine.pred - mine.true), abs=1e-5)
        assert row.other_nmad == pytest.approx(metrics.nmad(theirs.pred - theirs.true), abs=1e-5)
        res = shifted.pred - shifted.true
        assert row.other_model_bias == pytest.approx(res.mean(), abs=1e-5)
        # the SDSS run's model, shown the Legacy Surveys images: not its own predictions again
        meta = json.loads((ls / f"results/comparison/oh_p50-{size}px-other-model.json").read_text())
        assert meta["model"].startswith("../sdss/")
        on_sdss = theirs.set_index("objID").pred.loc[shifted.objID].to_numpy()
        assert not np.allclose(shifted.pred.to_numpy(), on_sdss, atol=1e-3)
    meta = json.loads((ls / "results/comparison/comparison.json").read_text())
    assert meta["other_run"] == "../sdss" and meta["labels"]["other"] == "SDSS-like"
    for f in ("results/figures/comparison.png", "results/comparison/comparison.md"):
        assert (ls / f).stat().st_size > 0


def test_the_legacy_survey_run_renders_other_pixels_and_says_so(two_surveys):
    sdss, ls = two_surveys
    manifest = pd.read_csv(ls / "results/cutouts/manifest.csv")
    objid = int(manifest.objID.iloc[0])
    mine = decode_image((ls / f"results/cutouts/{objid}.jpg").read_bytes(), 16)
    theirs = decode_image((sdss / f"results/cutouts/{objid}.jpg").read_bytes(), 16)
    assert not np.array_equal(mine, theirs)
    model = json.loads((ls / "results/models/oh_p50-16px.json").read_text())
    images = model["cutouts"]
    assert (images["service"], images["survey"], images["layer"]) == (
        "synthetic",
        "legacysurvey",
        "ls-dr10",
    )
    # no real Legacy Surveys cutouts to calibrate against: no calibration in this run
    assert not (ls / "results/calibration").exists()
