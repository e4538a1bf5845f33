"""The Legacy Surveys viewer client against a viewer double on 127.0.0.1 (tests/fake_viewer.py)."""

import io
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from astropy.io import fits
from fake_viewer import FakeViewer, default_layers
from galaxy_cnn import legacysurvey as ls
from galaxy_cnn.images import decode_image
from galaxy_cnn.skyserver import Retry

FAST = Retry(attempts=3, base_delay=0.01, max_delay=0.05)
INSIDE = (150.0, 5.0)  # well inside every default footprint
OUTSIDE = (30.0, 5.0)  # RA outside every footprint
PX = 0.262 / 3600


def client(server: FakeViewer, **kw) -> ls.ViewerClient:
    kw = {"size": 96, "bands": "gri", "retry": FAST, "requests_per_second": 500} | kw
    return ls.ViewerClient(server.url, **kw)


def rgb_of(result) -> np.ndarray:
    assert result.status == "ok", result.error
    return decode_image(result.data).astype(int)


def binned(rgb: np.ndarray, k: int = 8) -> np.ndarray:
    h, w, _ = rgb.shape
    return rgb[: h // k * k, : w // k * k].reshape(h // k, k, w // k, k, 3).mean(axis=(1, 3))


@pytest.fixture
def server():
    with FakeViewer(slow_seconds=1.0) as s:
        yield s


# --- pure functions --------------------------------------------------------------------------
def test_blank_colour_is_the_render_of_zero_bands_not_black():
    stretched = 255 * np.arcsinh(20 * 0.03) / np.sqrt(20)  # LsDr10 / dr2_rgb: m = 0.03, Q = 20
    grey = int(stretched)
    assert grey == 32
    assert ls.blank_rgb("ls-dr10").tolist() == [grey] * 3
    assert ls.blank_rgb("ls-dr9-south").tolist() == [grey] * 3
    # gri on ls-dr10: no z, so red gets only i's quarter
    assert ls.blank_rgb("ls-dr10", "gri").tolist() == [int(0.25 * stretched), grey, grey]
    assert ls.blank_rgb("sdss").tolist() == [int(255 * np.arcsinh(20 * 0.02) / np.sqrt(20))] * 3


@pytest.mark.parametrize("layer", sorted(default_layers()))
def test_client_mapping_is_the_viewers(layer):
    viewer = default_layers()[layer]
    rng = np.random.default_rng(1)
    for bands in {viewer.bands, viewer.bands[:2], viewer.bands[::2]}:
        cube = rng.normal(0, 0.05, (len(bands), 24, 24)).astype(np.float32)
        cube[:, 8:12, 8:12] += rng.uniform(0.5, 30, (len(bands), 1, 1)).astype(np.float32)
        cube[:, :3] = 0  # a zero-filled strip
        ours = ls.bands_to_rgb(cube, bands, layer)
        theirs = viewer.get_rgb(list(cube), bands)
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
        assert (ls.rgb_to_uint8(ours) == (theirs * 255).astype(np.uint8)).all()


def test_blank_fraction_separates_zero_filled_areas_from_sky():
    rng = np.random.default_rng(0)
    blank = ls.blank_rgb("ls-dr10", "gri")
    sky = np.clip(blank + rng.normal(0, 10, (128, 128, 3)), 0, 255).astype(np.uint8)
    assert ls.blank_fraction(sky, "ls-dr10", "gri") == 0.0  # sky scatters around the blank colour
    part = sky.copy()
    part[:, :16] = blank
    assert ls.blank_fraction(part, "ls-dr10", "gri") == pytest.approx(16 / 128, abs=0.005)
    full = np.broadcast_to(blank, (64, 64, 3)).copy()
    assert ls.blank_fraction(full, "ls-dr10", "gri") == 1.0
    assert ls.blank_fraction(full, "sdss") == 0.0  # another layer's blank colour
    spots = sky.copy()
    spots[::9, ::9] = blank  # isolated blank-coloured pixels are sky, not missing data
    assert ls.blank_fraction(spots, "ls-dr10", "gri") == 0.0


def test_cube_blank_fraction_counts_pixels_empty_in_every_band():
    cube = np.ones((3, 10, 10), np.float32)
    cube[:, :, :2] = 0
    cube[0, 5, 5] = 0  # one band zero: still data
    cube[:, 9, 9] = np.nan
    assert ls.cube_blank_fraction(cube) == pytest.approx(0.21)


# --- against the fake viewer -----------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["jpeg", "fits"])
@pytest.mark.parametrize(
    ("layer", "bands"), [("ls-dr10", "gri"), ("ls-dr9-south", None), ("sdss", None)]
)
def test_ok_cutouts_have_the_asked_size_and_parameters(server, fmt, layer, bands):
    result = client(server, layer=layer, bands=bands, fmt=fmt, size=100).fetch(*INSIDE)
    assert (result.status, result.attempts, result.http_status) == ("ok", 1, 200)
    assert decode_image(result.data, 100).shape == (100, 100, 3)
    (req,) = server.cutout_requests()
    assert req.path == {"jpeg": "/cutout.jpg", "fits": "/cutout.fits"}[fmt]
    assert req.params == {
        "ra": "150.0000000",
        "dec": "5.0000000",
        "layer": layer,
        "pixscale": {"sdss": "0.396"}.get(layer, "0.262"),
        "size": "100",
        "bands": bands or default_layers()[layer].bands,
    }


def test_jpeg_and_fits_of_one_position_give_the_same_picture(server):
    jpeg = rgb_of(client(server, fmt="jpeg", size=128).fetch(*INSIDE))
    cube = rgb_of(client(server, fmt="fits", size=128).fetch(*INSIDE))
    # both are JPEGs of the same render; pixel noise differs by compression, structure must not
    same = np.abs(binned(jpeg) - binned(cube)).mean()
    assert same < 1.5
    assert np.abs(jpeg - cube).mean() < 6
    # the north-east companion makes orientation visible: a FITS left south-up would not match
    assert np.abs(binned(jpeg) - binned(cube[::-1])).mean() > 3 * same


@pytest.mark.parametrize("fmt", ["jpeg", "fits"])
def test_blank_and_partly_blank_answers_are_outside_the_footprint(server, fmt):
    c = client(server, fmt=fmt, size=128)
    outside = c.fetch(150.0, 40.0)  # north of ls-dr10's Dec 32.375 edge
    assert outside.status == "outside_footprint" and outside.data is None
    edge = (150.0, 32.375 - 40 * PX)  # 24 of 128 rows beyond the edge
    part = c.fetch(*edge)
    assert (part.status, part.http_status) == ("outside_footprint", 200)
    frac = float(part.error.split("%")[0]) / 100
    assert frac == pytest.approx(24 / 128, abs=0.03)
    assert "max_blank_fraction=0.01" in part.error
    lenient = client(server, fmt=fmt, size=128, max_blank_fraction=0.3).fetch(*edge)
    rows = rgb_of(lenient)
    blank = ls.blank_rgb("ls-dr10", "gri")
    # the north (top) rows are blank; JPEG rings within the 16 px block that holds the edge
    assert np.abs(rows[:16] - blank).max() <= ls.BLANK_TOLERANCE
    assert np.abs(rows[-40:] - blank).max() > 50
    ra_edge = client(server, fmt=fmt, size=128).fetch(280.0 - 0.5 * 64 * PX, 5.0)
    assert ra_edge.status == "outside_footprint" and "% of the cutout" in ra_edge.error


def test_jpeg_outside_the_footprint_is_a_200_blank_render(server):
    resp = requests.get(
        server.url + "/cutout.jpg", params={"ra": 30, "dec": 5, "layer": "ls-dr10", "size": 64}
    )
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/jpeg"
    rgb = decode_image(resp.content, 64).astype(int)
    assert np.abs(rgb - ls.blank_rgb("ls-dr10")).max() <= 2 and rgb.min() > 0
    result = client(server, bands=None).fetch(*OUTSIDE)
    assert result.status == "outside_footprint" and "every pixel" in result.error


def test_fits_no_overlap_is_a_generic_500_checked_against_the_jpeg(server):
    result = client(server, fmt="fits").fetch(*OUTSIDE)
    assert (result.status, result.attempts, result.http_status) == ("outside_footprint", 1, 500)
    assert "JPEG of the same field is blank" in result.error
    assert [r.path for r in server.cutout_requests()] == ["/cutout.fits", "/cutout.jpg"]


def test_fits_no_overlap_traceback_page_needs_no_probe():
    with FakeViewer(debug=True) as server:
        result = client(server, fmt="fits").fetch(*OUTSIDE)
        assert (result.status, result.http_status) == ("outside_footprint", 500)
        assert "NoOverlapError" in result.error
        assert [r.path for r in server.cutout_requests()] == ["/cutout.fits"]


def test_a_fits_500_with_data_behind_it_is_retried(server):
    server.faults.append("500")
    result = client(server, fmt="fits").fetch(*INSIDE)
    assert (result.status, result.attempts) == ("ok", 2)
    paths = [r.path for r in server.cutout_requests()]
    assert paths == ["/cutout.fits", "/cutout.jpg", "/cutout.fits"]  # one probe, not blank


@pytest.mark.parametrize("fmt", ["jpeg", "fits"])
@pytest.mark.parametrize("fault", ["500", "502", "429", "html", "truncate", "drop", "slow"])
def test_each_fault_is_retried_and_recovers(server, fmt, fault):
    server.faults.append(fault)
    result = client(server, fmt=fmt, timeout=0.5).fetch(*INSIDE)
    assert (result.status, result.attempts, result.http_status) == ("ok", 2, 200)
    decode_image(result.data, 96)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("500", "HTTP 500: Server Error (500)"),
        ("502", "HTTP 502: 502 Bad Gateway"),
        ("html", "HTML page instead of a cutout"),
        ("truncate", "ChunkedEncodingError"),
        ("drop", "ConnectionError"),
        ("slow", "Timeout"),
    ],
)
def test_a_fault_that_persists_ends_as_failed_with_its_reason(server, fault, reason):
    server.faults.extend([fault] * FAST.attempts)
    result = client(server, timeout=0.3).fetch(*INSIDE)
    assert (result.status, result.attempts) == ("failed", FAST.attempts)
    assert reason in result.error and "after 3 attempts" in result.error
    assert len(server.cutout_requests()) == FAST.attempts


def test_4xx_and_refusals_are_not_retried(server):
    server.faults.append("403")
    result = client(server).fetch(*INSIDE)
    assert (result.status, result.attempts, result.http_status) == ("failed", 1, 403)
    assert result.error == "HTTP 403: 403 Forbidden 403 Forbidden Access denied."
    assert len(server.cutout_requests()) == 1
    layers = default_layers()
    del layers["ls-dr10-gri"]
    with FakeViewer(layers) as narrow:  # a viewer without a layer the client knows
        refused = client(narrow, layer="ls-dr10-gri").fetch(*INSIDE)
        assert (refused.status, refused.attempts, refused.http_status) == ("failed", 1, 200)
        assert "no such layer" in refused.error
        assert len(narrow.cutout_requests()) == 1


def test_the_client_keeps_to_its_request_rate_across_threads(server):
    rate = 20.0
    c = client(server, size=32, requests_per_second=rate)
    positions = [(150.0 + k * 0.01, 5.0) for k in range(25)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: c.fetch(*p), positions))
    assert all(r.status == "ok" for r in results)
    times = sorted(r.time for r in server.cutout_requests())
    assert len(times) == 25
    for i in range(len(times) - 10):  # any 10 consecutive requests span at least 10 intervals
        assert times[i + 10] - times[i] >= 10 / rate * 0.9
    assert times[-1] - times[0] >= 24 / rate * 0.9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer": "ls-dr42"}, "unknown Legacy Surveys layer 'ls-dr42': known are ls-dr10"),
        ({"size": 3001}, "size must be an integer in 1..3000"),
        ({"size": 0}, "size must be an integer in 1..3000"),
        ({"size": 64.0}, "size must be an integer"),
        ({"layer": "ls-dr9-south", "bands": "gri"}, "would silently use 'grz'"),
        ({"bands": "ggr"}, "give distinct bands"),
        ({"fmt": "png"}, "fmt must be one of"),
        ({"pixscale": -1}, "pixscale must be a positive"),
        ({"requests_per_second": 0}, "requests_per_second must be > 0"),
        ({"max_blank_fraction": 1.0}, "max_blank_fraction must be in"),
    ],
)
def test_bad_parameters_are_refused_before_any_request(server, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        client(server, **kwargs)
    assert server.cutout_requests() == []


def test_a_position_that_is_not_one_fails_without_a_request(server):
    result = client(server).fetch(float("nan"), 5.0)
    assert (result.status, result.attempts) == ("failed", 0)
    assert server.cutout_requests() == []


def test_the_double_answers_as_the_viewers_source_does(server):
    get = lambda path, **p: requests.get(server.url + path, params=p, timeout=30)  # noqa: E731
    big = get("/cutout.jpg", ra=150, dec=5, layer="ls-dr10", bands="g", size=3500)
    assert big.status_code == 200 and decode_image(big.content).shape == (3000, 3000, 3)
    nolayer = get("/cutout.jpg", ra=150, dec=5, layer="ls-dr42")
    assert (nolayer.status_code, nolayer.text) == (200, "no such layer")
    assert (get("/cutout.fits", dec=5).status_code, get("/cutout.fits", dec=5).text) == (
        400,
        "Need ra,dec keywords",
    )
    default = get("/cutout.fits", ra=150, dec=5, size=16, bands="gxz")  # unknown band: defaults
    with fits.open(io.BytesIO(default.content)) as hdul:
        hdr = hdul[0].header
        assert hdul[0].data.shape == (3, 16, 16) and hdr["BANDS"] == "grz"
        assert hdr["CD2_2"] == pytest.approx(0.262 / 3600) and hdr["CD1_1"] < 0
    last = server.cutout_requests()[-1]
    assert last.params == {"ra": "150", "dec": "5", "size": "16", "bands": "gxz"}
    notfound = get("/cutout.png", ra=150, dec=5)
    assert notfound.status_code == 404
