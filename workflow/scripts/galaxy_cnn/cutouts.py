"""Cutouts, one JPEG per galaxy at `results/cutouts/{objID}.jpg`, made in shards by a source.

Each shard writes its own manifest (objID, status, attempts, http_status, error); the merged
`manifest.csv` has exactly one row per catalog galaxy. Every JPEG carries a stamp (a JPEG comment)
of what it was made from: the source's settings, the image size and scale, and the galaxy's own
catalog row. A rerun keeps a file only if it decodes at the right size and its stamp matches the
current settings, so an interrupted run resumes without loss and a settings change remakes it.

`run_shard` is the one shard loop; a source gives it only a galaxy's stamp and how to make its
JPEG. A cutout service plugs in with its client's `fetch(ra, dec) -> CutoutResult`:
`make=at_position(client.fetch)`, `stamp_of=position_stamp(...)`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import files, provenance
from .images import ImageError, decode_image

log = logging.getLogger(__name__)
MANIFEST_COLUMNS = ["objID", "status", "attempts", "http_status", "error"]
STAMP_PREFIX = b"galaxy_cnn cutout "
_SOI, _COM = b"\xff\xd8", b"\xff\xfe"


@dataclass
class CutoutResult:
    """One galaxy's JPEG (`data`, when `status` is ok) or why there is none: a manifest row."""

    status: str  # ok | outside_footprint | failed | missing
    attempts: int
    http_status: int | None
    error: str
    data: bytes | None = None


def shard_rows(catalog: pd.DataFrame, shard: int, n_shards: int) -> pd.DataFrame:
    """Rows of one shard: every n-th galaxy in objID order (balanced, stable across reruns)."""
    ordered = catalog.sort_values("objID").reset_index(drop=True)
    return ordered.iloc[shard::n_shards]


def cutout_stamp(**parts) -> str:
    """A short digest of everything a cutout depends on (settings and the galaxy's row)."""
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def stamp_jpeg(data: bytes, stamp: str) -> bytes:
    """Insert the stamp as a JPEG comment right after the start-of-image marker (pixels same)."""
    if not data.startswith(_SOI):
        raise ImageError("not a JPEG (no start-of-image marker)")
    text = STAMP_PREFIX + stamp.encode()
    return _SOI + _COM + (len(text) + 2).to_bytes(2, "big") + text + data[2:]


def read_stamp(data: bytes) -> str | None:
    """The stamp `stamp_jpeg` wrote, or None for any other file."""
    if data[:4] != _SOI + _COM:
        return None
    length = int.from_bytes(data[4:6], "big")
    text = data[6 : 4 + length]
    return text[len(STAMP_PREFIX) :].decode() if text.startswith(STAMP_PREFIX) else None


def is_verified(path: Path, size: int, stamp: str) -> bool:
    """True if `path` was made with these settings (stamp) and decodes at size x size px."""
    try:
        data = path.read_bytes()
        if read_stamp(data) != stamp:
            return False
        decode_image(data, size)
        return True
    except (OSError, ImageError):
        return False


def manifest_row(
    obj_id: int, status: str, attempts: int = 0, http_status=None, error: str = ""
) -> dict:
    return {
        "objID": int(obj_id),
        "status": status,
        "attempts": attempts,
        "http_status": http_status,
        "error": error,
    }


def write_manifest(rows: list[dict], out_csv: str) -> pd.DataFrame:
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    files.write_csv(manifest, out_csv)
    return manifest


def run_shard(
    rows: pd.DataFrame,
    folder: str,
    *,
    out_manifest: str,
    size: int,
    stamp_of: Callable[[Any], str | CutoutResult],
    make: Callable[[Any], CutoutResult],
    concurrency: int = 1,
    desc: str = "cutouts",
    kept_attempts: int = 0,
    clear_failed: bool = False,
) -> pd.DataFrame:
    """Make one shard's cutouts (`rows`, a catalog slice) and write its manifest, one row each.

    `stamp_of(row)` is what the galaxy's JPEG must carry to be kept, or its manifest entry when
    it cannot be made at all; `make(row)` makes the JPEG, only for a galaxy without a verified
    one. `concurrency` threads call `make` (a service's client holds the rate cap);
    `kept_attempts` is the attempts written for a kept file; `clear_failed` deletes the old
    file of a galaxy that failed, so that no cutout outlives the image it came from.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    stale = files.remove_stale_parts(out, {f"{int(o)}.jpg" for o in rows["objID"]})
    if stale:
        log.info("%s: removed %d half-written files of a killed run", desc, stale)

    def one(row) -> dict:
        path = out / f"{int(row.objID)}.jpg"
        stamp = stamp_of(row)
        if isinstance(stamp, CutoutResult):
            result = stamp
        elif is_verified(path, size, stamp):
            return manifest_row(row.objID, "ok", kept_attempts)
        else:
            result = make(row)
            if result.status == "ok":
                files.write_bytes(path, stamp_jpeg(result.data, stamp))
        if clear_failed and result.status == "failed":
            path.unlink(missing_ok=True)
        return manifest_row(
            row.objID, result.status, result.attempts, result.http_status, result.error
        )

    def each(done) -> list[dict]:
        return list(tqdm(done, total=len(rows), desc=desc, unit="img", mininterval=2))

    todo = rows.itertuples(index=False)
    if concurrency > 1:
        with ThreadPoolExecutor(concurrency) as pool:
            return write_manifest(each(pool.map(one, todo)), out_manifest)
    return write_manifest(each(map(one, todo)), out_manifest)


def position_stamp(service: str, url: str, image: dict, **how) -> Callable[[Any], str]:
    """The stamp of a cutout a service cuts at the galaxy's position: where from, size, scale,
    and `how` the service renders it (layer, bands, format; none for SkyServer, whose stamps
    therefore stay what they were before there were other services)."""
    size, scale = image["size"], image["scale"]

    def stamp_of(row) -> str:
        ra, dec = float(row.ra), float(row.dec)
        return cutout_stamp(source=service, url=url, size=size, scale=scale, ra=ra, dec=dec, **how)

    return stamp_of


def at_position(
    fetch: Callable[[float, float], CutoutResult],
) -> Callable[[Any], CutoutResult]:
    """A service client's `fetch(ra, dec)` as `run_shard`'s `make`; no request without ra/dec."""

    def make(row) -> CutoutResult:
        if not (np.isfinite(row.ra) and np.isfinite(row.dec)):
            return CutoutResult("failed", 0, None, "catalog row has no valid ra/dec")
        return fetch(float(row.ra), float(row.dec))

    return make


def merge_manifests(
    catalog_csv: str,
    *,
    catalog_json: str,
    catalog_rejected: str,
    shard_csvs: list[str],
    out_csv: str,
    out_json: str,
    out_excluded: str,
    source: str,
    image: dict,
    max_missing_fraction: float,
) -> dict:
    """One row per catalog galaxy, and every galaxy lost so far with its reason (the pack stage,
    next, stops the run if too many are: a failed job's outputs are deleted, this list must
    stay)."""
    from .funnel import galaxies_read

    shards = {p: pd.read_csv(p, dtype={"objID": "int64"}) for p in shard_csvs}
    manifest = _one_row_per_galaxy(catalog_csv, list(shards.values()), Path(out_csv).parent)
    files.write_csv(manifest, out_csv)
    meta = files.read_json(catalog_json)
    rejected = pd.read_csv(catalog_rejected, dtype={"objID": "string"})
    rejected = rejected[~rejected["reason"].str.startswith("duplicate objID")]
    no_cutout = manifest[manifest["status"] != "ok"]
    excluded = excluded_table(rejected, no_cutout)
    files.write_csv(excluded, out_excluded)
    counts = manifest["status"].value_counts().to_dict()
    n = len(manifest)
    summary = {
        "source": source,
        "image": image,
        "galaxies": n,
        "by_status": counts,
        "missing_fraction": (n - counts.get("ok", 0)) / max(n, 1),
        "galaxies_read": galaxies_read(meta),
        "excluded_so_far": len(excluded),
        "max_missing_fraction": max_missing_fraction,
        "provenance": provenance.collect(),
    }
    log.info("cutouts: %s", {k: summary[k] for k in ("galaxies", "by_status", "excluded_so_far")})
    summary["excluded_by_reason"] = _count_reasons(rejected, no_cutout)
    retried = RETRIED_STATUSES.get(source, ())
    if retried:
        lost = sum(summary["excluded_by_reason"].values())
        stop_or_warn_on_failed(
            shards,
            retried,
            n_cutouts=n,
            limit=max_missing_fraction,
            listing=out_excluded,
            forcerun="cutouts_shard",
            lost_of=(lost, summary["galaxies_read"]),
        )
    files.write_json(summary, out_json)
    return summary


def _count_reasons(rejected: pd.DataFrame, no_cutout: pd.DataFrame) -> dict[str, int]:
    reasons = pd.concat(
        [rejected["reason"], "no cutout (" + no_cutout["status"] + ")"], ignore_index=True
    )
    return reasons.value_counts().to_dict()


def _one_row_per_galaxy(catalog_csv: str, shards: list[pd.DataFrame], folder: Path) -> pd.DataFrame:
    """The shards' rows in objID order, checked to hold each catalog galaxy exactly once; the
    half-written files of killed runs in `folder` removed (every shard is done)."""
    from .catalog import read_catalog

    stale = files.remove_stale_parts(folder, None)
    if stale:
        log.info("cutouts: removed %d half-written files left by killed runs", stale)
    catalog = read_catalog(catalog_csv)
    manifest = pd.concat(shards, ignore_index=True)
    if manifest["objID"].duplicated().any():
        raise RuntimeError("a galaxy appears in two cutout shards")
    missing_rows = set(catalog["objID"]) - set(manifest["objID"])
    if missing_rows:
        raise RuntimeError(
            f"{len(missing_rows)} catalog galaxies have no manifest row (stale shard files?)"
        )
    return manifest.sort_values("objID").reset_index(drop=True)


def excluded_table(rejected: pd.DataFrame, no_cutout: pd.DataFrame) -> pd.DataFrame:
    """Every galaxy lost so far (rejected catalog rows, then galaxies without a cutout), why."""
    from .funnel import EXCLUDED_COLUMNS

    catalog = pd.DataFrame(
        {
            "objID": rejected["objID"],
            "stage": "catalog",
            "reason": rejected["reason"] + " (row " + rejected["row"].astype(str) + ")",
        }
    )
    cutouts = pd.DataFrame(
        {
            "objID": no_cutout["objID"].astype("string"),
            "stage": "cutouts",
            "reason": "no cutout: " + no_cutout["status"] + ": " + no_cutout["error"].fillna(""),
        }
    )
    return pd.concat([catalog, cutouts], ignore_index=True)[EXCLUDED_COLUMNS]


# Statuses a rerun may turn into `ok` (a download that failed; the server may be back), by source.
# outside_footprint is final; a local source's failures are the user's files, whose change reruns
# the import anyway (the folder digest).
RETRIED_STATUSES = {"sdss": ("failed",)}


def failed_rows(
    shards: dict[str, pd.DataFrame], retried: tuple[str, ...]
) -> tuple[list[str], pd.DataFrame]:
    """(shard manifests holding a row with a `retried` status, those rows)."""
    bad = {p: m[m["status"].isin(retried)] for p, m in shards.items()}
    rows = (
        pd.concat(bad.values(), ignore_index=True)
        if bad
        else pd.DataFrame(columns=MANIFEST_COLUMNS)
    )
    return [p for p, b in bad.items() if len(b)], rows


def forget_failed_shards(paths: list[str]) -> None:
    """Delete shard manifests with failed rows, so that a plain rerun remakes those shards (the
    verified cutouts are kept and not fetched again; only the failed ones are asked for)."""
    for p in paths:
        Path(p).unlink(missing_ok=True)


def stop_or_warn_on_failed(
    shards: dict[str, pd.DataFrame],
    retried: tuple[str, ...],
    *,
    n_cutouts: int,
    limit: float,
    listing: str,
    forcerun: str,
    lost_of: tuple[int, int] | None = None,
) -> None:
    """A failed download is no final answer (the server may be back). Past `limit` the shard
    manifests holding `retried` rows are deleted and the run stops, so that a plain rerun fetches
    only those; fewer are left out (listed in `listing`) and the run goes on. `lost_of` (galaxies
    lost for any reason, galaxies read) is what `limit` bounds; without it, the failed cutouts."""
    from .errors import Incomplete

    paths, rows = failed_rows(shards, retried)
    if not len(rows):
        return
    why = rows["error"].fillna("").iloc[0] or rows["status"].iloc[0]
    example = f"objID {rows['objID'].iloc[0]}: {why}"
    lost, total = lost_of or (len(rows), max(n_cutouts, 1))
    if total and lost / total > limit:
        forget_failed_shards(paths)
        context = (
            f"; with them {lost} of {total} galaxies read ({lost / total:.1%}) are excluded"
            if lost_of
            else ""
        )
        raise Incomplete(
            f"{len(rows)} of {n_cutouts} cutouts failed to download (e.g. {example}){context}, "
            f"more than cutouts.max_missing_fraction={limit}. The cutouts made so far are kept: "
            "run the same command again to retry the failed downloads (only those are fetched)"
        )
    log.warning(
        "%d cutouts failed to download and are left out (listed in %s; e.g. %s). "
        "`snakemake --forcerun %s` retries them, and then reruns every later stage",
        len(rows),
        listing,
        example,
        forcerun,
    )
