"""The Legacy Surveys viewer's layers: native pixel scale, default bands, RGB mapping.

Standard library only: the Snakefile imports it to check `cutouts.layer` and `cutouts.bands`
before any job runs; the client (legacysurvey.py) renders and recognises blank cutouts with it.
Read from github.com/legacysurvey/imagine at 8402fc35 (map/views.py).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_SIZE = 3000  # MapLayer.get_cutout: maxsize; larger sizes are clipped without a word


@dataclass(frozen=True)
class Layer:
    """What the viewer uses for one layer: native pixel scale, default bands, RGB mapping."""

    name: str
    pixscale: float
    bands: str
    mapping: str  # "ls-dr10" | "ls-dr10-gri" | "dr2" | "sdss"


# MapLayer.pixscale = 0.262 (SdssLayer: 0.396); bands from get_layer()/get_bands(); the mapping
# from each class's get_rgb. ls-dr10 is LegacySurveySplitLayer(ls-dr9-north, ls-dr10-south):
# below Dec 32.375 (and in the SGC) it renders LsDr10Layer's griz mapping, above it DR9-north's
# dr2_rgb (grz only). Both render zero bands to grey 32 for the default bands.
LAYERS = {
    layer.name: layer
    for layer in [
        Layer("ls-dr10", 0.262, "griz", "ls-dr10"),
        Layer("ls-dr10-south", 0.262, "griz", "ls-dr10"),
        Layer("ls-dr10-gri", 0.262, "gri", "ls-dr10-gri"),
        Layer("ls-dr10-south-gri", 0.262, "gri", "ls-dr10-gri"),
        Layer("ls-dr9", 0.262, "grz", "dr2"),
        Layer("ls-dr9-north", 0.262, "grz", "dr2"),
        Layer("ls-dr9-south", 0.262, "grz", "dr2"),
        Layer("sdss", 0.396, "gri", "sdss"),
    ]
}


def layer_info(layer: str) -> Layer:
    """The known layer `layer`, or a ValueError naming the known ones."""
    try:
        return LAYERS[layer]
    except KeyError:
        raise ValueError(
            f"unknown Legacy Surveys layer {layer!r}: known are {', '.join(LAYERS)} "
            "(the client must know a layer's RGB mapping to recognise its blank cutouts)"
        ) from None


def bands_problem(layer: str, bands: str) -> str:
    """Why `bands` cannot be asked of `layer` ('' if they can): the viewer would silently fall
    back to the layer's own bands."""
    own = layer_info(layer).bands
    bad = [b for b in bands if b not in own]
    if not bands or bad or len(set(bands)) != len(bands):
        return (
            f"bands {bands!r} for layer {layer}: give distinct bands among {own!r} "
            f"(the viewer would silently use {own!r})"
        )
    return ""
