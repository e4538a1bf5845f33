"""The synthetic universe against the 500 real SkyServer cutouts, measured the same way."""

import numpy as np
import pandas as pd
import pytest
from galaxy_cnn import calibration, synthetic
from galaxy_cnn.images import decode_image, jpeg_of


def test_image_stats_on_a_known_frame():
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal([10, 20, 30], 4.0, (128, 128, 3)), 0, 255)
    yy, xx = np.indices((128, 128))
    img[np.hypot(yy - 63.5, xx - 63.5) < 6] = [200, 150, 100]  # the galaxy
    img[100:104, 20:24] = 250  # a neighbour of 16 px
    s = calibration.image_stats(np.round(img).astype(np.uint8))
    assert [s["sky_R"], s["sky_G"], s["sky_B"]] == pytest.approx([10, 20, 30], abs=0.6)
    assert [s["noise_R"], s["noise_G"], s["noise_B"]] == pytest.approx([4.0, 4.0, 4.0], abs=0.3)
    assert [s["core_R"], s["core_G"], s["core_B"]] == pytest.approx([200, 150, 100], abs=1)
    assert 3 < s["half_light_px"] < 6 and s["has_neighbour"] == 1.0
    assert s["isophotal_radius_px"] == pytest.approx(
        6, abs=0.5
    )  # the disc of radius 6 px, not the neighbour
    assert s["axis_ratio"] == pytest.approx(1, abs=0.05)  # a round disc
    assert s["colour_gradient"] == pytest.approx(1, abs=0.05)  # one colour throughout

    flat = img.copy()
    flat[np.hypot(yy - 63.5, xx - 63.5) < 6] = [10, 20, 30]
    flat[np.hypot((yy - 63.5) / 3, xx - 63.5) < 4] = [200, 150, 100]  # an ellipse, 24 x 8 px
    assert calibration.image_stats(np.round(flat).astype(np.uint8))["axis_ratio"] == pytest.approx(
        1 / 3, abs=0.05
    )

    img[(np.hypot(yy - 63.5, xx - 63.5) >= 3) & (np.hypot(yy - 63.5, xx - 63.5) < 6)] = [
        150,
        150,
        150,
    ]  # bluer rim
    s = calibration.image_stats(np.round(img).astype(np.uint8))
    assert s["colour_gradient"] > 1.2


def test_synthetic_cutouts_match_real_ones(shared_data, tmp_path):
    real = pd.DataFrame(
        [
            calibration.image_stats(decode_image(p))
            for p in sorted((shared_data / "sdss-sample" / "images").glob("*.jpg"))
        ]
    )
    cat, truth, _ = synthetic.draw_population(300, seed=11)
    rows = cat.merge(truth, on="objID").head(80)
    settings = synthetic.RenderSettings()
    synth = pd.DataFrame(
        [
            calibration.image_stats(
                decode_image(
                    jpeg_of(
                        synthetic.render_galaxy(
                            r, 128, 0.296, synthetic.galaxy_seed(11, r.objID), settings
                        ),
                        settings.jpeg_quality,
                    )
                )
            )
            for r in rows.itertuples(index=False)
        ]
    )  # served as SkyServer serves them: JPEG
    for ch in "RGB":  # core colours within 10%
        assert synth[f"core_{ch}"].median() == pytest.approx(
            real[f"core_{ch}"].median(), rel=0.10
        ), ch
    for col in [
        "sky_R",
        "sky_G",
        "sky_B",
        "noise_R",
        "noise_G",
        "noise_B",
        "peak",
        "half_light_px",
        "isophotal_radius_px",
    ]:  # the tuning goal: within 20%
        ratio = synth[col].median() / real[col].median()
        assert 1 / 1.2 <= ratio <= 1.2, (col, ratio)
    assert synth["axis_ratio"].median() == pytest.approx(
        real["axis_ratio"].median(), abs=0.1
    )  # inclinations
    ratio = (
        synth["colour_gradient"].median() / real["colour_gradient"].median()
    )  # disks bluer than cores, as real
    assert 1 / 1.1 <= ratio <= 1.1, ("colour_gradient", ratio)
    assert synth["has_neighbour"].mean() == pytest.approx(real["has_neighbour"].mean(), abs=0.15)
