"""A synthetic universe with known truth, seen by SDSS or the Legacy Surveys
(docs/synthetic-universe.md).

`population` draws the galaxies (catalog columns and hidden truth), `render` draws their cutouts.
RENDER_DIGEST names the code that shapes the pixels, so that only a change there remakes them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

from ..images import encode
from . import render
from .population import (
    PopulationSettings,
    draw_population,
    floor_summary,
    log_central_density,
)
from .render import (
    NATIVE_SCALE,
    RenderSettings,
    galaxy_seed,
    native_grid_px,
    planes_to_rgb,
    render_galaxy,
    render_planes,
    render_settings,
)


def _source_digest(*modules: ModuleType) -> str:
    """sha256 over the modules' source files, in the order given (12 hex digits)."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


# the renderer and the colour stretch and JPEG encoder it uses; a catalog row that changes shows in
# the cutout's stamp already, so the population's code is left out
RENDER_DIGEST = _source_digest(render, encode)

__all__ = [
    "NATIVE_SCALE",
    "RENDER_DIGEST",
    "PopulationSettings",
    "RenderSettings",
    "draw_population",
    "floor_summary",
    "galaxy_seed",
    "log_central_density",
    "native_grid_px",
    "planes_to_rgb",
    "render_galaxy",
    "render_planes",
    "render_settings",
]
