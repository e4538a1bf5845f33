"""Atomic file writes: a killed job never leaves a file that a rerun would trust."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success.

    The temporary name is fixed (`.{name}.part`), so the rerun of a killed job overwrites what it
    left instead of leaving it behind. Each path has one writer at a time (one job, one thread).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_csv(df: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, **kwargs)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def remove_stale_parts(folder: str | os.PathLike, names: set[str] | None) -> int:
    """Delete temporary files a killed job left for any of `names` (None: for any file) in `folder`;
    return how many.

    One directory scan for the whole set: a scan per file would cost O(N^2) in a folder of 100k
    cutouts. Only the given names are touched, so concurrent shards never remove each other's work;
    None is for a job that runs when no writer can be left (the manifest, after every shard).
    """
    removed = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            n = entry.name
            if not (n.startswith(".") and n.endswith(".part")):
                continue
            stem = n[1:-5]  # `.{name}.part`, or `.{name}.{random}.part` from older versions
            if names is None or stem in names or stem.rsplit(".", 1)[0] in names:
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
    return removed
