"""Galaxies lost on the way from the catalog to the packed images: counted, listed, capped.

Every galaxy read from the source that does not reach training (a rejected catalog row, a missing
or failed cutout, an undecodable file) counts toward `cutouts.max_missing_fraction`; past it the
run stops, naming the count, the main reasons and the file that lists every excluded row.
Duplicate objIDs are not lost galaxies (the first row is kept) and do not count, unless their rows
disagree on a target (a local catalog): then the galaxy is lost, listed and counted once.
"""

from __future__ import annotations

from .errors import TooManyExcluded

EXCLUDED_COLUMNS = ["objID", "stage", "reason"]


def galaxies_read(catalog_meta: dict) -> int:
    return catalog_meta["rows_in"] - catalog_meta.get("duplicate_objID_dropped", 0)


def check_excluded(counts: dict[str, int], n_read: int, max_fraction: float, listing: str) -> int:
    """Stop if too many galaxies are excluded (`counts`: how many per reason); return how many."""
    counts = dict(sorted(counts.items(), key=lambda kv: -kv[1]))
    lost = sum(counts.values())
    if n_read and lost / n_read > max_fraction:
        top = "; ".join(f"{n} {reason}" for reason, n in list(counts.items())[:5])
        raise TooManyExcluded(
            f"{lost} of {n_read} galaxies read ({lost / n_read:.1%}) were excluded, more than "
            f"cutouts.max_missing_fraction={max_fraction}. Main reasons: {top}. "
            f"Every excluded row, with its reason, is listed in {listing}"
        )
    return lost
