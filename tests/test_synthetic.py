"""The synthetic universe's truth: the Tremonti MZR and its mass-dependent scatter, split into an
SFR term, four structural terms an image can show, and hidden scatter no image reveals."""

import numpy as np
import pytest
from galaxy_cnn import synthetic
from galaxy_cnn.images import downsample
from galaxy_cnn.relations import tremonti_mzr, tremonti_scatter


@pytest.fixture(scope="module")
def population():
    cat, truth, _ = synthetic.draw_population(20_000, seed=3)
    return cat, truth


def test_tremonti_scatter_is_their_table():
    """Half of P84 - P16 in Tremonti et al. (2004), Table 3."""
    got = tremonti_scatter(np.array([8.6, 9.8, 10.4, 11.0]))
    np.testing.assert_allclose(got, [0.19, 0.115, 0.085, 0.07], atol=0.006)


def test_scatter_about_the_mzr_follows_tremonti_at_every_mass(population):
    cat, truth = population
    mass = cat["lgm_tot_p50"].to_numpy()
    about = cat["oh_p50"].to_numpy() - tremonti_mzr(mass)
    for lo, hi in [(8.8, 9.3), (9.5, 9.9), (10.0, 10.4), (10.6, 11.0)]:
        sel = (mass >= lo) & (mass < hi)
        want = np.sqrt(np.mean(tremonti_scatter(mass[sel]) ** 2))
        assert sel.sum() > 500 and abs(about[sel].std() / want - 1) < 0.15, (
            lo,
            hi,
            about[sel].std(),
            want,
        )


def test_the_terms_add_up_and_the_structural_terms_are_new_information(population):
    cat, truth = population
    terms = truth[
        ["sfr_term", "size_term", "density_term", "inflow_term", "nucleus_term", "hidden_scatter"]
    ]
    about = cat["oh_p50"] - tremonti_mzr(cat["lgm_tot_p50"].to_numpy())
    np.testing.assert_allclose(terms.sum(axis=1), about, atol=1e-9)
    density, inflow, nucleus = truth["density_term"], truth["inflow_term"], truth["nucleus_term"]
    for other in (
        cat["lgm_tot_p50"],
        truth["size_term"],
        truth["sfr_term"],
        truth["hidden_scatter"],
    ):
        assert (
            abs(np.corrcoef(density, other)[0, 1]) < 0.1
        )  # not predictable from mass, size or SFR
    assert np.corrcoef(density, truth["log_sigma1"])[0, 1] > 0.2  # denser centres, metal-richer
    for other in (
        cat["lgm_tot_p50"],
        truth["size_term"],
        truth["sfr_term"],
        density,
        truth["lopsidedness"],
    ):
        assert abs(np.corrcoef(inflow, other)[0, 1]) < 0.1
    assert (
        np.corrcoef(inflow, truth["patchiness"])[0, 1] < -0.3
    )  # patchy, clumpy disks are metal-poorer
    assert np.corrcoef(inflow, truth["clump_fraction"])[0, 1] < -0.3
    for other in (
        cat["lgm_tot_p50"],
        truth["size_term"],
        truth["sfr_term"],
        density,
        inflow,
        truth["nucleus_tint"],
        truth["bulge_fraction"],
        cat["modelMag_g"] - cat["modelMag_r"],
    ):
        assert (
            abs(np.corrcoef(nucleus, other)[0, 1]) < 0.1
        )  # nothing but the nucleus's inner colours shows it
    assert (
        np.corrcoef(nucleus, truth["core_blueing"])[0, 1] < -0.8
    )  # young stars in the core: metal-poorer
    assert (
        nucleus.std() > 0.05
    )  # the largest structural term: the one only a resolved image can show


def test_a_young_core_shows_at_128_px_and_sums_away_at_16_px():
    """Five galaxies, each drawn (same noise, same neighbours) without the young light and with it
    in the core or around it."""
    cat, truth, _ = synthetic.draw_population(50, seed=4)
    settings, contrast = synthetic.RenderSettings(), synthetic.PopulationSettings().nucleus_contrast
    core = (slice(60, 68), slice(60, 68))
    for _, row in cat.merge(truth, on="objID").head(5).iterrows():
        images, fluxes = [], []
        for blueing, tint in (
            (0.0, 0.0),
            (contrast, row.nucleus_tint),
            (-contrast, row.nucleus_tint),
        ):
            row["core_blueing"], row["nucleus_tint"] = blueing, tint
            planes, n_nat = synthetic.render_planes(row, 128, 0.296, 9, settings)
            fluxes.append(planes.sum(axis=(1, 2)))
            images.append(synthetic.planes_to_rgb(planes, n_nat, 128, 0.296, settings))
        for flux in fluxes[1:]:  # light moved, none added (bar clipping at zero)
            np.testing.assert_allclose(flux, fluxes[0], rtol=1e-2)
        young_core, young_around = (img.astype(float) for img in images[1:])
        blue_over_red = [
            img[core][..., 2].mean() / img[core][..., 0].mean()
            for img in (young_core, young_around)
        ]
        assert blue_over_red[0] > 1.25 * blue_over_red[1]  # 128 px: a bluer core, plain to see
        small = [downsample(img[None], 16)[0].astype(float) for img in images[1:]]
        assert np.abs(small[0] - small[1]).max() < 0.3 * np.abs(young_core - young_around).max()
        assert (
            np.abs(small[0] - small[1]).mean() < 0.2
        )  # 16 px: the 2.4" pixels hold nearly the same light


def test_the_floor_reports_each_term(population):
    _, truth = population
    floor = synthetic.floor_summary(truth, synthetic.PopulationSettings())["oh_p50"]
    assert set(floor["term_std"]) == {
        "sfr_term",
        "size_term",
        "density_term",
        "inflow_term",
        "nucleus_term",
        "hidden_scatter",
    }
    assert 0.055 < floor["floor_nmad"] < 0.065  # NMAD of a 0.06-dex Gaussian
