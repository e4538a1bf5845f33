"""The galaxy catalog (`results/catalog.csv`): checks and reading shared by every source.

Whatever the source, the catalog has integer objIDs (never floats), NaN for missing values
(SDSS's -9999), one row per objID, and a JSON sidecar that counts every row excluded and why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CatalogError

SENTINEL = -9999
INT64_MAX = 2**63 - 1


def id_problem(value) -> str:
    """Why a raw objID is unusable ('' if it is an exact positive 64-bit integer)."""
    text = (
        ""
        if value is None or (isinstance(value, float) and np.isnan(value))
        else str(value).strip()
    )
    if not text or text.lower() in ("nan", "<na>", "none", "null"):
        return "objID is blank"
    if text.isascii() and text.isdigit():
        return "" if 0 < int(text) <= INT64_MAX else "objID is 0 or beyond the 64-bit range"
    if text[0] in "+-" and text[1:].isascii() and text[1:].isdigit():
        return "objID has a sign (objIDs are positive integers written as digits only)"
    try:
        if not text.isascii():
            raise ValueError
        float(text)
    except ValueError:
        return "objID is not a number"
    return (
        "objID is not an exact integer (floating-point notation such as 1.2376e+18 has lost "
        "digits: export objIDs as text)"
    )


REJECTED_COLUMNS = ["row", "objID", "reason"]


def long_integers(column: pd.Series) -> bool:
    """True when the column holds integers of more than 15 digits, which float64 would round."""
    text = column.astype("string").str.strip()
    return bool(text.str.fullmatch(r"[+-]?\d{16,}").fillna(False).any())


def clean_catalog(
    raw: pd.DataFrame,
    require_coords: bool = True,
    numeric: tuple[str, ...] = (),
    on_bad_value: str = "stop",
    name: str = "catalog",
    conflicts: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Validate a catalog; return (kept rows, report, rejected rows with their reasons).

    objIDs must be exact positive 64-bit integers (never rounded), ra/dec valid when
    `require_coords`, the `numeric` columns numbers or blank: another value stops with an error
    naming the column, row and value, or with `on_bad_value='exclude'` rejects the row. -9999
    (SDSS's missing value) becomes NaN. Duplicate objIDs keep the first row (lowest specObjID if
    present), unless their rows disagree on a `conflicts` column: then no row is kept (or, with
    `on_bad_value` 'stop', the run stops naming them), since no rule says which value is the
    galaxy's. `row` in the rejected table counts data rows from 1 (line row + 1 of a CSV file).
    """
    raw = raw.reset_index(drop=True)
    problems = [id_problem(v) for v in raw["objID"]]
    reasons = _row_reasons(
        raw,
        problems,
        numeric=numeric,
        require_coords=require_coords,
        on_bad_value=on_bad_value,
        name=name,
    )
    bad = reasons != ""
    rejected = _rejected_table(raw.index[bad] + 1, raw.loc[bad, "objID"], reasons[bad])
    df = _sorted_for_dedup(_typed_columns(raw[~bad].copy(), numeric))
    dup = df["objID"].duplicated(keep="first")  # one photometric object, several spectra (or rows)
    duplicates = _rejected_table(
        df.loc[dup, "_row"], df.loc[dup, "objID"], "duplicate objID (the first row is kept)"
    )
    conflicting = _conflicting(df, conflicts, name, on_bad_value)
    if len(conflicting):
        rejected = pd.concat([rejected, conflicting], ignore_index=True)
        df, dup = _leave_out_conflicting(df, dup, duplicates, conflicting)
    df = df[~dup].drop(columns=["_spec", "_row"], errors="ignore").reset_index(drop=True)
    report = _clean_report(raw, df, rejected, problems=problems, dropped=int(dup.sum()))
    return df, report, pd.concat([rejected, duplicates], ignore_index=True).sort_values("row")


def _row_reasons(
    raw: pd.DataFrame,
    problems: list[str],
    *,
    numeric: tuple[str, ...],
    require_coords: bool,
    on_bad_value: str,
    name: str,
) -> pd.Series:
    """Each row's first reason to be rejected ('' for a good row): objID, numbers, then ra/dec."""
    reasons = pd.Series("", index=raw.index, dtype=object)
    reasons[:] = problems
    for col in numeric:
        bad = _not_numbers(raw, col, on_bad_value=on_bad_value, name=name)
        reasons[bad & (reasons == "")] = f"{col} is not a number"
    if require_coords:
        ra = pd.to_numeric(raw["ra"], errors="coerce")
        dec = pd.to_numeric(raw["dec"], errors="coerce")
        bad_coord = ~((ra >= 0) & (ra < 360) & (dec >= -90) & (dec <= 90))
        reasons[bad_coord & (reasons == "")] = "ra/dec missing or out of range"
    return reasons


def _not_numbers(raw: pd.DataFrame, col: str, *, on_bad_value: str, name: str) -> pd.Series:
    """Which rows of `col` hold something other than a finite number or a blank; unless they are
    to be excluded, the first one stops the run, since a typo must not pass as a missing value."""
    text = raw[col].astype("string").str.strip()
    blank = text.isna() | (text == "")
    num = pd.to_numeric(text.where(~blank), errors="coerce")
    bad = ~blank & ~np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
    if bad.any() and on_bad_value != "exclude":
        first = int(np.flatnonzero(bad)[0])
        raise CatalogError(
            f"{name}: column {col!r} must hold numbers, but row {first + 1} "
            f"(line {first + 2}) has {raw[col].iloc[first]!r} ({int(bad.sum())} such rows). "
            "Fix the file, or set "
            "local.on_bad_value: exclude to leave those rows out (they are counted)"
        )
    return bad


def _rejected_table(row, obj_id: pd.Series, reason) -> pd.DataFrame:
    """Rejected rows in the one layout every rejection list shares (REJECTED_COLUMNS)."""
    return pd.DataFrame(
        {"row": row, "objID": obj_id.astype("string"), "reason": reason},
        columns=REJECTED_COLUMNS,
    )


def _typed_columns(df: pd.DataFrame, numeric: tuple[str, ...]) -> pd.DataFrame:
    """int64 objIDs; numbers for numeric-looking columns, with SDSS's -9999 as NaN. Long integer
    IDs (other than objID/specObjID) stay text, since a float cannot hold them exactly."""
    df["objID"] = df["objID"].astype("string").str.strip().astype("int64")
    for col in df.columns:
        if col in ("objID", "specObjID"):
            continue
        if col not in numeric and long_integers(df[col]):
            continue  # IDs a float cannot hold exactly stay text
        num = pd.to_numeric(df[col], errors="coerce")
        if (
            col in numeric or num.notna().sum() >= df[col].replace("", np.nan).notna().sum()
        ):  # numeric
            df[col] = num.mask(num == SENTINEL)
    return df


def _sorted_for_dedup(df: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered so that the one to keep of each objID comes first: lowest specObjID (when
    present), then file order; `_row` keeps each row's number in the file."""
    df["_row"] = df.index + 1
    sort_cols = ["objID", "_row"]
    if "specObjID" in df.columns:
        df["_spec"] = df["specObjID"].astype("string").str.zfill(20)
        sort_cols = ["objID", "_spec", "_row"]
    return df.sort_values(sort_cols, kind="stable")


def _leave_out_conflicting(
    df: pd.DataFrame, dup: pd.Series, duplicates: pd.DataFrame, conflicting: pd.DataFrame
) -> tuple[pd.DataFrame, pd.Series]:
    """Drop the kept row of every objID whose rows disagree (no rule picks one), and reword the
    reason of its other rows in `duplicates` (in place) to say the objID is left out."""
    lost = df["objID"].isin(conflicting["objID"].astype("int64")) & ~dup
    duplicates.loc[duplicates["objID"].isin(conflicting["objID"]), "reason"] = (
        "duplicate objID (rows disagree; the objID is left out)"
    )
    return df[~lost], dup[~lost]


def _clean_report(
    raw: pd.DataFrame,
    df: pd.DataFrame,
    rejected: pd.DataFrame,
    *,
    problems: list[str],
    dropped: int,
) -> dict:
    """The counts for the catalog's JSON sidecar, so that every row left out is accounted for."""
    counts = rejected["reason"].value_counts().to_dict()
    return {
        "rows_in": len(raw),
        "rows_out": len(df),
        "rejected": len(rejected),
        "rejected_by_reason": counts,
        "rejected_bad_objID": int(sum(r.startswith("objID") for r in problems)),
        "rejected_bad_coordinates": int(counts.get("ra/dec missing or out of range", 0)),
        "duplicate_objID_dropped": dropped,
    }


def _conflicting(
    df: pd.DataFrame, columns: tuple[str, ...], name: str, on_bad_value: str
) -> pd.DataFrame:
    """One rejected row per objID whose rows disagree on one of `columns` (its first row)."""
    many = df[df["objID"].duplicated(keep=False)]
    rows = []
    for obj_id, group in many.groupby("objID", sort=False):
        col = next((c for c in columns if group[c].nunique(dropna=False) > 1), None)
        if col is None:
            continue
        values = ", ".join(
            "blank" if pd.isna(v) else f"{v:g}" if isinstance(v, float) else str(v)
            for v in group[col]
        )
        lines = ", ".join(str(r) for r in group["_row"])
        rows.append(
            {
                "row": int(group["_row"].iloc[0]),
                "objID": str(obj_id),
                "reason": f"objID given in rows {lines} with different {col} ({values})",
            }
        )
    if rows and on_bad_value != "exclude":
        first = rows[0]
        where = first["reason"].removeprefix("objID given in rows ")
        raise CatalogError(
            f"{name}: objID {first['objID']} is given in rows "
            f"{where} ({len(rows)} such objIDs). Fix "
            "the file, or set local.on_bad_value: exclude to leave them out (they are counted and "
            "listed)"
        )
    return pd.DataFrame(rows, columns=REJECTED_COLUMNS).astype({"objID": "string"})


def write_catalog(
    df: pd.DataFrame, report: dict, rejected: pd.DataFrame, outputs: dict, meta: dict
) -> dict:
    """catalog.csv, the rejected rows with their reasons, and the JSON sidecar (meta + report)."""
    from . import files, provenance

    if not len(df):
        top = ", ".join(f"{n} {r}" for r, n in report["rejected_by_reason"].items())
        raise CatalogError(
            f"no usable catalog rows: {report['rows_in']} read, all rejected ({top}); "
            f"see {outputs['rejected']}"
        )
    files.write_csv(rejected, outputs["rejected"])
    files.write_csv(df, outputs["catalog"])
    meta = meta | report | {"provenance": provenance.collect()}
    files.write_json(meta, outputs["meta"])
    return meta


def read_catalog(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"objID": "int64", "specObjID": "string"})
