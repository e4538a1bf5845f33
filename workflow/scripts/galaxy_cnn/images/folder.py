"""The image files of a user's folder, by the objID their names give."""

from __future__ import annotations

import os
from pathlib import Path

from ..listing import image_suffix


def index_image_folder(folder: str | os.PathLike) -> tuple[dict[int, list[Path]], dict[str, str]]:
    """Image files by the objID their name gives (`{objID}.jpg/.jpeg/.png/.fits/.fit/.fits.gz`,
    any case), in one directory scan; and {file name: reason} for image files whose name is no
    objID.

    Several files can give one objID (`X.jpg` beside `X.png`, or `0X.jpg`): callers refuse those.
    """
    from ..catalog import id_problem

    by_id: dict[int, list[Path]] = {}
    unnamed: dict[str, str] = {}
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            suffix = image_suffix(entry.name)  # the files the rerun digest lists, and only those
            if suffix is None:
                continue
            try:
                regular = entry.is_file()  # follows links; False for pipes, devices, folders
            except OSError:
                regular = False
            if not regular:
                unnamed[entry.name] = "not a regular file (a folder, pipe, device or broken link)"
                continue
            stem = entry.name[: -len(suffix)]
            if id_problem(stem):
                unnamed[entry.name] = "file name is not an objID (expected {objID}" + suffix + ")"
                continue
            by_id.setdefault(int(stem), []).append(Path(entry.path))
    return by_id, unnamed
