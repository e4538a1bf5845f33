"""Cutout services: SkyServer's getjpeg (`sdss`) and the Legacy Surveys viewer (`legacysurvey`).

A service's `settings` are what rules/common.smk's `cutout_client_settings` gives: `service`, its
`url`, its own keys (`OWN_KEYS`: layer, bands and format for the viewer) and the politeness that
every service shares (concurrency, requests_per_second, retries, retry_delay, timeout).
`cutout_service` is the one place that builds a client from them; the sdss source's cutouts and
apply's both take what it returns and never look at the service themselves.

A cutout's stamp names what it was cut with. SkyServer's is what it was before there were other
services (position, size, scale, url), so that cutouts already downloaded stay valid; the
viewer's adds the layer, bands and format.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cutouts import CutoutResult, position_stamp
from .errors import InputError
from .layers import layer_info
from .legacysurvey import ViewerClient
from .skyserver import CutoutClient, Retry

SERVICES = ("sdss", "legacysurvey")
OWN_KEYS = {"sdss": (), "legacysurvey": ("layer", "bands", "format")}
# The service whose cutouts stand for a model's images when apply fetches new ones. Synthetic
# cutouts are rendered as their recorded `survey` serves them (SkyServer's, the value here, when
# none is recorded); a local model's images are the user's own, and apply fetched SkyServer's for
# it before there were other services. A model without a recorded service is older than services:
# its images came from SkyServer.
FETCHED_AS = {"sdss": "sdss", "legacysurvey": "legacysurvey", "synthetic": "sdss", "local": "sdss"}


@dataclass(frozen=True)
class CutoutService:
    """What `cutouts.run_shard` needs of a service: how to fetch at a position, the stamp a
    galaxy's file must carry to be kept, and how many requests may be in flight."""

    fetch: Callable[[float, float], CutoutResult]
    stamp_of: Callable[[Any], str]
    concurrency: int


def cutout_service(settings: dict, image: dict) -> CutoutService:
    """The configured service's client, for cutouts of `image` (size in px, scale in "/px)."""
    s = settings
    if s.get("service") not in SERVICES:
        raise ValueError(f"cutout service must be one of {SERVICES}, got {s.get('service')!r}")
    retry = Retry(attempts=s["retries"], base_delay=s["retry_delay"])
    polite = {
        "timeout": s["timeout"],
        "retry": retry,
        "requests_per_second": s["requests_per_second"],
    }
    if s["service"] == "sdss":
        client = CutoutClient(s["url"], image["size"], image["scale"], **polite)
        return CutoutService(
            client.fetch, position_stamp("sdss", s["url"], image), s["concurrency"]
        )
    how = {
        "layer": s["layer"],
        "bands": s.get("bands") or layer_info(s["layer"]).bands,
        "format": s["format"],
    }
    client = ViewerClient(
        s["url"],
        layer=how["layer"],
        size=image["size"],
        pixscale=image["scale"],
        bands=how["bands"],
        fmt=how["format"],
        **polite,
    )
    stamp_of = position_stamp("legacysurvey", s["url"], image, **how)
    return CutoutService(client.fetch, stamp_of, s["concurrency"])


def fetched_as(cutouts: dict) -> str | None:
    """The service whose cutouts stand for a model's images (`cutouts`, the model's record)."""
    recorded = cutouts.get("service", "sdss")
    if recorded == "synthetic":
        return cutouts.get("survey", FETCHED_AS["synthetic"])
    return FETCHED_AS.get(recorded)


def model_service_settings(cutouts: dict, client: dict) -> dict:
    """The settings that fetch cutouts like a model's own: its service, layer, bands and format
    (`cutouts`, the model's record), with the config's url of that service and politeness
    (`client`: `urls` by service, and the shared keys)."""
    recorded = cutouts.get("service", "sdss")
    service = fetched_as(cutouts)
    if service is None:
        raise InputError(
            f"the model's cutouts come from {recorded!r}: apply can fetch cutouts like them "
            f"only for {', '.join(FETCHED_AS)}; give a folder of images instead"
        )
    shared = {k: v for k, v in client.items() if k != "urls"}
    own = {k: cutouts[k] for k in OWN_KEYS[service]}
    return shared | own | {"service": service, "url": client["urls"][service]}


def describe(record: dict) -> str:
    """A cutout record in words: 'sdss at 0.296"/px', 'legacysurvey (ls-dr10, 0.262"/px)'."""
    service, scale = record.get("service", "sdss"), f'{record["scale"]:g}"/px'
    if service == "legacysurvey":
        parts = [record["layer"]] if record.get("layer") else []
        return f"legacysurvey ({', '.join([*parts, scale])})"
    return f"{service} at {scale}"


def declared_mismatch(declared: dict, cutouts: dict, *, name: str) -> str:
    """What an apply entry's images are declared to be (`declared`: service, layer, scale, any of
    them) against the model's `cutouts`: '' if they agree, else a message naming both."""
    if not declared:
        return ""
    model = {"service": "sdss"} | cutouts
    seen = model | declared
    differs = (
        (fetched_as(model) or model["service"]) != seen["service"]
        or (seen["service"] == "legacysurvey" and seen.get("layer") != model.get("layer"))
        or not math.isclose(seen["scale"], model["scale"], rel_tol=1e-3)
    )
    if not differs:
        return ""
    return (
        f"apply.{name}: images declared service {describe(seen)} but the model was trained on "
        f"{describe(model)}"
    )
