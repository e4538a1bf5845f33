"""Which files of a user's folder are images, and a digest of them that changes when they do.

Standard library only: the Snakefile imports it, so that Snakemake reruns what read a folder when
an image in it is added, removed or replaced, and not when a README or a notebook is.
"""

from __future__ import annotations

import hashlib
import os

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FITS_SUFFIXES = (".fits", ".fit", ".fits.gz")
LOCAL_SUFFIXES = IMAGE_SUFFIXES + FITS_SUFFIXES


def image_suffix(name: str) -> str | None:
    """The image suffix `name` ends with (any case), or None for hidden files and non-images."""
    if name.startswith("."):
        return None
    lower = name.lower()
    return max((s for s in LOCAL_SUFFIXES if lower.endswith(s)), key=len, default=None)


def is_image_name(name: str) -> bool:
    return image_suffix(name) is not None


def image_folder_digest(folder: str | os.PathLike) -> str:
    """Names, kinds, sizes and modification times of the folder's image files, hashed."""
    digest = hashlib.sha256()
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not is_image_name(entry.name):
            continue
        try:
            st = entry.stat()
            digest.update(f"{entry.name}\t{st.st_mode}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError as err:  # a dangling or looping link: listed as such
            digest.update(f"{entry.name}\t{err.strerror}\n".encode())
    return digest.hexdigest()[:16]
