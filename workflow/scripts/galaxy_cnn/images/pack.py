"""Packing: every cutout decoded once into one (N, size, size, 3) uint8 .npy, and read back."""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import files
from .decode import ImageError, decode_image


def _decode_many(paths: list[str], size: int, out: np.ndarray) -> list[str]:
    """Decode `paths` into `out` (rows zero-filled where an image fails); errors per row."""
    errors = [""] * len(paths)
    for i, p in enumerate(paths):
        try:
            out[i] = decode_image(p, size)
        except (ImageError, FileNotFoundError) as err:
            errors[i] = str(err)
            out[i] = 0
    return errors


def _decode_into_npy(npy: str, start: int, paths: list[str], size: int) -> list[str]:
    """Worker: decode straight into rows [start, start + len(paths)) of a memory-mapped .npy."""
    array = np.load(npy, mmap_mode="r+")
    # MAP_SHARED: no flush needed
    return _decode_many(paths, size, array[start : start + len(paths)])


def pack_images_to(
    paths: list[str], size: int, out_npy: str, workers: int = 1, chunk: int = 1024
) -> list[str]:
    """Decode every image once into an (N, size, size, 3) uint8 .npy; errors per row ('' = ok).

    Workers write their rows into the memory-mapped file themselves, so no pixels pass
    through the parent process (the bottleneck at 100k+ images). Failed rows stay zero.
    """
    np.lib.format.open_memmap(
        out_npy, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3)
    ).flush()
    errors: list[str] = [""] * len(paths)
    starts = range(0, len(paths), chunk)
    with tqdm(total=len(paths), desc="pack", unit="img", mininterval=2) as bar:
        if workers <= 1:
            for s in starts:
                errors[s : s + chunk] = _decode_into_npy(out_npy, s, paths[s : s + chunk], size)
                bar.update(len(paths[s : s + chunk]))
        else:
            with ProcessPoolExecutor(workers) as pool:
                futures = {
                    s: pool.submit(_decode_into_npy, out_npy, s, paths[s : s + chunk], size)
                    for s in starts
                }
                for s, fut in futures.items():
                    errors[s : s + chunk] = fut.result()
                    bar.update(len(paths[s : s + chunk]))
    return errors


def pack_images(
    paths: list[str], size: int, workers: int = 1, chunk: int = 1024
) -> tuple[np.ndarray, list[str]]:
    """In-memory variant of `pack_images_to` (tests, benchmarks, small sets)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        npy = os.path.join(tmp, "packed.npy")
        errors = pack_images_to(paths, size, npy, workers, chunk)
        return np.load(npy), errors


def pack_cutouts(
    manifest: str,
    manifest_json: str,
    excluded: str,
    *,
    folder: str,
    size: int,
    images: str,
    index: str,
    report: str,
    workers: int = 1,
) -> dict:
    """Pack the `ok` cutouts of a manifest; unreadable ones are left out of the index and reported.

    Arguments are the pack rule's inputs, params and outputs: `images`, `index` and `report` are
    the files written. Then the funnel check: galaxies lost since the catalog (listed in
    `excluded`) plus the undecodable ones must stay within the `max_missing_fraction` the cutouts
    stage recorded.
    """
    table = pd.read_csv(manifest, dtype={"objID": "int64"})
    ok = table[table["status"] == "ok"].reset_index(drop=True)
    paths = [str(Path(folder) / f"{oid}.jpg") for oid in ok["objID"]]
    with files.atomic_path(images) as tmp:
        errors = pack_images_to(paths, size, str(tmp), workers)
    good = np.array([e == "" for e in errors], bool)
    rows = pd.DataFrame({"objID": ok["objID"][good].to_numpy(), "row": np.flatnonzero(good)})
    files.write_csv(rows, index)
    rejected = {int(o): e for o, e, g in zip(ok["objID"], errors, good, strict=True) if not g}
    summary = _pack_report(int(good.sum()), rejected, size, manifest_json, excluded)
    if rejected:
        logging.getLogger(__package__).warning("undecodable cutouts: %s", rejected)
    files.write_json(summary, report)
    return summary


def _pack_report(packed: int, rejected: dict, size: int, manifest_json: str, excluded: str) -> dict:
    """What was packed and rejected, with the funnel check of the galaxies lost so far."""
    from .. import provenance
    from ..funnel import check_excluded

    cutouts = files.read_json(manifest_json)
    summary = {
        "packed": packed,
        "undecodable": len(rejected),
        "rejected": rejected,
        "size": size,
        "cutouts": {"source": cutouts["source"]} | cutouts["image"],
        "provenance": provenance.collect(),
    }
    counts = cutouts["excluded_by_reason"] | (
        {"undecodable cutout": len(rejected)} if rejected else {}
    )
    summary["excluded_so_far"] = check_excluded(
        counts,
        cutouts["galaxies_read"],
        cutouts["max_missing_fraction"],
        excluded + (" (undecodable ones: the pack log)" if rejected else ""),
    )
    return summary


def load_packed(npy: str, index_csv: str, mmap: bool = True) -> tuple[np.ndarray, pd.DataFrame]:
    """The packed array (memory-mapped by default) and its objID -> row index, checked."""
    array = np.load(npy, mmap_mode="r" if mmap else None)
    index = pd.read_csv(index_csv, dtype={"objID": "int64"})
    rows = index["row"].to_numpy()
    if len(rows) and (
        rows.min() < 0 or rows.max() >= len(array) or len(np.unique(rows)) != len(rows)
    ):
        raise ValueError(
            f"{index_csv}: its 'row' column does not index {npy} ({len(array)} images) one-to-one"
        )
    return array, index
