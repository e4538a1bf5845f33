"""Applying a trained model to galaxies without spectra, at survey scale.

Inputs (config `apply.{name}`, exactly one of): `images`, a folder of `{objID}` JPEG/PNG/FITS
cutouts; `positions`, a CSV with objID, ra, dec (other columns are carried through); or `query`,
a SkyServer SQL selection returning objID, ra, dec. Positions and query rows get their cutouts
as the model's were cut: from its service (SkyServer or the Legacy Surveys viewer, services.py)
with its layer, bands, size and scale, with the verified, resumable clients of the training data.
Prediction streams through the images in chunks, in shards that a cluster can
run in parallel, so memory does not grow with the number of galaxies. The result has one row per
input (position or image file) with its status and reason, `pred` and `pred_std` (dex, 1 sigma),
as CSV and as a FITS table with units and the model's provenance.

    from galaxy_cnn.apply import apply_model
    apply_model("results/models/oh_p50-128px.pt", "my_cutouts/", "my_predictions.csv")
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from . import files, provenance
from .catalog import clean_catalog, id_problem
from .errors import InputError
from .images import ImageError, downsample, index_image_folder, read_local_image

log = logging.getLogger(__name__)
INPUT_COLUMNS = ["input", "objID", "status", "reason", "image"]
RESULT_COLUMNS = {
    "input",
    "status",
    "reason",
    "error",
    "image",
    "pred",
    "pred_std",
    "true",
}  # made by apply


# --- the model, as plain metadata for the jobs that must not load torch ----------------------


def model_info(
    model_path: str,
    out_json: str,
    *,
    name: str = "",
    declared: dict | None = None,
    allow_mismatch: bool = False,
) -> dict:
    """The model's target, sizes, cutouts (service, layer, bands, size, scale) and provenance:
    what apply's other stages need. `declared` is what the apply entry `name` says its images
    are (service, layer, scale); one that differs from the model's cutouts stops here, unless
    `allow_mismatch`, and is then recorded in the result."""
    from .model import load_model
    from .services import declared_mismatch

    model, meta = load_model(model_path)
    cutouts = meta.get("cutouts")
    if not cutouts or "scale" not in cutouts:
        raise InputError(f"{model_path}: the model does not record its cutouts' size and scale")
    cutouts = {"service": "sdss"} | cutouts  # a model older than services: SkyServer's
    mismatch = declared_mismatch(declared or {}, cutouts, name=name)
    if mismatch and not allow_mismatch:
        raise InputError(
            f"{mismatch}. Give images like the model's, or set apply.{name}.allow_mismatch: "
            "true to predict anyway (the result then records the mismatch)"
        )
    info = {
        "model": str(Path(model_path).resolve()),
        "target": meta["target"],
        "size": meta["size"],
        "cutouts": cutouts,
        "images_declared": declared or None,
        "mismatch": mismatch,
        "seeds": meta.get("seeds"),
        "sigma_scale": model.sigma_scale,
        "calibration": meta.get("calibration"),
        "model_provenance": meta.get("provenance", {}),
    }
    files.write_json(info, out_json)
    return info


# --- targets: positions or an SQL query -------------------------------------------------------


def read_positions(path: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(valid rows: objID int64, ra, dec and any other columns; rejected rows: input, reason)."""
    from .sources.local import read_user_csv

    raw = read_user_csv(Path(path), "apply positions")
    missing = [c for c in ("objID", "ra", "dec") if c not in raw.columns]
    if missing:
        raise InputError(
            f"apply positions {path} lacks column(s) {missing}; it has {list(raw.columns)}"
        )
    good, _, rejected = clean_catalog(raw, require_coords=True, name=f"apply positions {path}")
    return good, pd.DataFrame({"input": rejected["objID"], "reason": rejected["reason"]})


def query_body(user_sql: str) -> str:
    """The user's SELECT as one line, `--` comments removed, ready to wrap in a paged query."""
    lines = [line.split("--", 1)[0] for line in user_sql.splitlines()]
    body = " ".join(" ".join(lines).split()).rstrip(";").strip()
    if not body.upper().startswith("SELECT "):
        raise InputError(
            f"apply query must be one SELECT statement returning objID, ra, dec; got: {user_sql!r}"
        )
    if ";" in body:
        raise InputError("apply query must be a single statement (it contains ';')")
    if re.match(r"SELECT\s+(DISTINCT\s+)?TOP\b", body, flags=re.IGNORECASE):
        raise InputError("apply query must not use TOP: the workflow fetches every row, in pages")
    if re.search(r"\bORDER\s+BY\b", body, flags=re.IGNORECASE):
        raise InputError(
            "apply query must not have ORDER BY: "
            "the workflow pages through it in objID order itself"
        )
    return body


def query_sql(body: str, top: int, after: int) -> str:
    """One keyset page of the user's selection (its `query_body`), ordered by objID."""
    return f"SELECT TOP {top} q.* FROM ({body}) AS q WHERE q.objID > {after} ORDER BY q.objID"


def run_query(
    url: str,
    user_sql: str,
    *,
    page_size: int = 50_000,
    min_query_interval: float = 1.0,
    query_timeout: float = 600,
    retries: int = 5,
    retry_delay: float = 2.0,
) -> pd.DataFrame:
    """Every row of the user's selection, keyset-paged on objID with the catalog's client."""
    from .skyserver import Retry, SkyServerRejected, SqlClient

    body = query_body(user_sql)  # bad SQL stops here, before any request
    client = SqlClient(
        url,
        timeout=query_timeout,
        retry=Retry(attempts=retries, base_delay=retry_delay),
        min_interval=min_query_interval,
    )
    pages = client.keyset_pages(
        lambda after: query_sql(body, page_size, after),
        "objID",
        required=("objID", "ra", "dec"),
        check=_one_row_per_objid,
    )
    frames = []
    try:
        with tqdm(desc="query pages", unit="row", mininterval=2) as bar:
            for header, rows in pages:
                frames.append(pd.DataFrame(rows, columns=header, dtype=str))
                bar.update(len(rows))
    except SkyServerRejected as err:
        raise InputError(f"apply query: {err}") from err
    *full, last = frames  # the last page is empty: its header names the columns of no rows
    return pd.concat(full, ignore_index=True) if full else last


def _one_row_per_objid(ids: list[int]) -> None:
    """Rows of one objID could straddle two pages and be lost: a query must not repeat one."""
    repeated = [a for a, b in zip(ids[:-1], ids[1:], strict=True) if a == b]
    if repeated:
        raise InputError(
            f"apply query returns several rows for objID {repeated[0]} (a join?); "
            "select one row per objID"
        )


def write_targets(kind: str, source: str, sdss: dict, out_targets: str, out_rejected: str) -> dict:
    """targets.csv (objID, ra, dec, carried columns) and the rejected input rows with reasons."""
    if kind == "positions":
        good, rejected = read_positions(source)
    else:
        raw = run_query(user_sql=source, **sdss)
        if raw.empty:
            raise InputError(f"apply query returned no rows: {source}")
        good, _, bad = clean_catalog(raw, require_coords=True, name="apply query result")
        rejected = pd.DataFrame({"input": bad["objID"], "reason": bad["reason"]})
    taken = sorted(c for c in good.columns if c.lower() in RESULT_COLUMNS)
    if taken:
        what = f"apply positions {source}" if kind == "positions" else "the apply query's result"
        raise InputError(f"{what} has column(s) {taken}, which the results use; rename them")
    files.write_csv(good, out_targets)
    files.write_csv(rejected, out_rejected)
    return {"targets": len(good), "rejected": len(rejected)}


def fetch_cutouts_shard(
    targets_csv: str,
    model_json: str,
    *,
    shard: int,
    n_shards: int,
    settings: dict,
    folder: str,
    out_manifest: str,
) -> pd.DataFrame:
    """One shard of cutouts for apply targets, cut as the model's were: from its service, with
    its layer, bands, size and scale (`settings`: the config's urls by service and politeness)."""
    from .services import model_service_settings
    from .sources import sdss

    cutouts = files.read_json(model_json)["cutouts"]
    return sdss.cutouts_shard(
        targets_csv,
        {},
        shard=shard,
        n_shards=n_shards,
        image={"size": cutouts["size"], "scale": cutouts["scale"]},
        settings=model_service_settings(cutouts, settings),
        folder=folder,
        out_manifest=out_manifest,
    )


# --- the inputs table: one row per input, the image to predict where there is one ----------------


def list_inputs(
    kind: str,
    out_csv: str,
    *,
    folder: str | None = None,
    targets_csv: str | None = None,
    rejected_csv: str | None = None,
    shard_csvs: list[str] = (),
    cutout_folder: str | None = None,
    max_failed_fraction: float = 0.0,
) -> dict:
    """results/applied/{name}/inputs.csv: input, objID, status, reason, image (+ carried columns).

    Downloads that failed for more than `max_failed_fraction` of the targets stop here, and a plain
    rerun retries them (the shards holding them are deleted; verified cutouts are kept).
    """
    if kind == "images":
        table = image_inputs(folder)
    else:
        table = position_inputs(
            targets_csv,
            rejected_csv,
            shard_csvs=shard_csvs,
            cutout_folder=cutout_folder,
            max_failed_fraction=max_failed_fraction,
            listing=out_csv,
        )
    table["objID"] = table["objID"].astype("Int64")
    files.write_csv(table, out_csv)
    return table["status"].value_counts().to_dict()


def image_inputs(folder: str | None) -> pd.DataFrame:
    """One row per image file of `folder`; a file named for no objID, or one of several for the
    same objID, is a failed input (which one the user meant is theirs to say)."""
    if not folder or not Path(folder).is_dir():
        raise InputError(f"apply images: folder {folder} does not exist")
    by_id, unnamed = index_image_folder(folder)
    if not by_id and not unnamed:
        raise InputError(f"apply images: folder {folder} holds no JPEG/PNG/FITS image")
    rows = [
        {"input": name, "objID": pd.NA, "status": "failed", "reason": reason, "image": ""}
        for name, reason in unnamed.items()
    ]
    for obj_id, paths in by_id.items():
        names = ", ".join(p.name for p in paths)
        for p in paths:
            dup = len(paths) > 1
            rows.append(
                {
                    "input": p.name,
                    "objID": obj_id,
                    "status": "failed" if dup else "ok",
                    "reason": f"several images for objID {obj_id}: {names}" if dup else "",
                    "image": "" if dup else str(p),
                }
            )
    return pd.DataFrame(rows, columns=INPUT_COLUMNS)


def position_inputs(
    targets_csv: str,
    rejected_csv: str,
    *,
    shard_csvs: list[str],
    cutout_folder: str | None,
    max_failed_fraction: float,
    listing: str,
) -> pd.DataFrame:
    """One row per target (its cutout's status) and per rejected position or query row."""
    from .cutouts import stop_or_warn_on_failed

    # nullable dtypes keep long integer columns exact (objID must be "Int64" here: pandas reads
    # "int64" under this backend as float64)
    targets = pd.read_csv(targets_csv, dtype={"objID": "Int64"}, dtype_backend="numpy_nullable")
    targets["objID"] = targets["objID"].astype("int64")
    shards = {p: pd.read_csv(p, dtype={"objID": "int64"}) for p in shard_csvs}
    stop_or_warn_on_failed(
        shards,
        ("failed",),
        n_cutouts=len(targets),
        limit=max_failed_fraction,
        listing=listing,
        forcerun="apply_cutouts_shard",
    )
    manifest = pd.concat(shards.values(), ignore_index=True)
    table = targets.merge(manifest[["objID", "status", "error"]], on="objID", how="left")
    if table["status"].isna().any():
        raise RuntimeError(
            f"{int(table['status'].isna().sum())} targets have no cutout manifest row"
        )
    ok = table["status"] == "ok"
    table = table.rename(columns={"error": "reason"}).assign(
        input=table["objID"].astype(str),
        image=np.where(ok, [f"{cutout_folder}/{o}.jpg" for o in table["objID"]], ""),
    )
    table["reason"] = table["reason"].fillna("")
    rejected = pd.read_csv(rejected_csv, dtype=str, keep_default_na=False)
    exact = [int(v) if not id_problem(v) else pd.NA for v in rejected["input"]]
    rejected = rejected.assign(objID=pd.array(exact, dtype="Int64"), status="rejected", image="")
    table = pd.concat([table, rejected], ignore_index=True)
    return table[INPUT_COLUMNS + [c for c in table.columns if c not in INPUT_COLUMNS]]


def read_inputs(path: str, chunksize: int | None = None):
    """The inputs table (or an iterator of `chunksize`-row blocks of it), text columns never NaN."""
    text = {"input": str, "status": str, "reason": str, "image": str}
    if chunksize:
        return (
            b.fillna({c: "" for c in text})
            for b in pd.read_csv(path, dtype={"objID": "Int64"} | text, chunksize=chunksize)
        )
    return pd.read_csv(
        path, dtype={"objID": "Int64"} | text, dtype_backend="numpy_nullable"
    ).fillna({c: "" for c in text})


# --- prediction, streamed in chunks, one shard of the inputs ----------------------------------


def predict_shard(
    model_path: str,
    inputs_csv: str,
    *,
    shard: int,
    n_shards: int,
    out_csv: str,
    device: str = "auto",
    views: int = 8,
    batch_size: int = 256,
    chunk: int = 2048,
    threads: int = 1,
) -> dict:
    """objID, status, reason, pred, pred_std for the `ok` inputs of one shard (every n-th row).

    The inputs table is read, and the images decoded and predicted, `chunk` rows at a time, and
    each chunk's rows are appended to the output: memory stays at one chunk of images plus the
    model, whatever the number of galaxies.
    """
    import torch

    from .device import resolve_device
    from .model import load_model
    from .predict import predict_tta

    torch.set_num_threads(max(1, threads))
    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    full, size = meta["cutouts"]["size"], meta["size"]
    counts = {"ok": 0, "failed": 0}
    blocks = _shard_rows(inputs_csv, shard=shard, n_shards=n_shards, chunk=chunk)
    with files.atomic_path(out_csv) as tmp, open(tmp, "w") as out:
        pd.DataFrame(columns=PREDICTION_COLUMNS).to_csv(out, index=False)
        for mine in tqdm(blocks, desc=f"apply shard {shard}", unit="chunk", mininterval=2):
            images, kept, failed = read_chunk(mine, full)
            parts = [failed] if len(failed) else []
            if kept:
                images = downsample(np.stack(images), size)
                pred = predict_tta(model, images, batch_size, views, dev, progress=False)
                ok = pd.DataFrame({"objID": kept, "pred": pred.mean, "pred_std": pred.std})
                parts.append(ok.assign(status="ok", reason=""))
            for part in parts:
                part[PREDICTION_COLUMNS].to_csv(out, index=False, header=False, float_format="%.6f")
            counts["ok"] += len(kept)
            counts["failed"] += len(failed)
    return counts


def _shard_rows(inputs_csv: str, *, shard: int, n_shards: int, chunk: int):
    """The `ok` rows of one shard (every n-th row of the inputs table), about `chunk` at a time."""
    offset = 0
    for block in read_inputs(inputs_csv, chunksize=chunk * n_shards):
        mine = (np.arange(len(block)) + offset) % n_shards == shard
        offset += len(block)
        yield block[mine & (block["status"] == "ok")]


PREDICTION_COLUMNS = ["objID", "status", "reason", "pred", "pred_std"]


def read_chunk(mine: pd.DataFrame, full: int) -> tuple[list[np.ndarray], list[int], pd.DataFrame]:
    """(images, their objIDs, the failed rows with why) of one chunk's inputs, at `full` px."""
    images, kept, failed = [], [], []
    for row in mine.itertuples(index=False):
        try:
            images.append(read_local_image(Path(row.image), full))
            kept.append(int(row.objID))
        except (ImageError, OSError) as err:
            hint = (
                " (the size of the model's cutouts)"
                if f"expected {full}x{full}" in str(err)
                else ""
            )
            reason = f"{Path(row.image).name}: {err}{hint}"
            failed.append({"objID": int(row.objID), "status": "failed", "reason": reason})
    return images, kept, pd.DataFrame(failed, columns=PREDICTION_COLUMNS)


# --- the merged result: CSV and FITS, one row per input ----------------------------------------


def merge_results(
    inputs_csv: str,
    shard_csvs: list[str],
    model_json: str,
    *,
    out_csv: str,
    out_fits: str,
    out_json: str,
    catalog_csv: str | None = None,
    views: int = 8,
) -> dict:
    """results/applied/{name}.csv/.fits/.json from the inputs and the prediction shards."""
    inputs = read_inputs(inputs_csv)
    preds = pd.concat(
        [
            pd.read_csv(
                p,
                dtype={"objID": "int64"},
                keep_default_na=False,
                na_values={"pred": [""], "pred_std": [""]},
            )
            for p in shard_csvs
        ],
        ignore_index=True,
    )
    ok = inputs["status"] == "ok"
    merged = inputs[ok].merge(preds, on="objID", how="left", suffixes=("_in", ""))
    if merged["status"].isna().any():
        raise RuntimeError(f"{int(merged['status'].isna().sum())} ok inputs have no prediction row")
    merged = merged.drop(columns=["status_in", "reason_in"])
    rest = inputs[~ok].assign(pred=np.nan, pred_std=np.nan)
    table = pd.concat([merged, rest], ignore_index=True)
    table = table.drop(columns=["image"])
    info = files.read_json(model_json)
    if catalog_csv:
        table = with_truth(table, catalog_csv, info["target"])
    if not (table["status"] == "ok").any():
        raise InputError(no_prediction_message(table, inputs_csv))
    front = ["objID", "input", "status", "reason", "pred", "pred_std"] + (
        ["true"] if "true" in table else []
    )
    table = table[front + [c for c in table.columns if c not in front]]
    table = table.sort_values(["objID", "input"], na_position="last").reset_index(drop=True)
    files.write_csv(table, out_csv, float_format="%.6f")
    write_fits(table, info, views, out_fits)
    summary = {
        "inputs": len(table),
        "by_status": table["status"].value_counts().to_dict(),
        "model": info,
        "mismatch": info.get("mismatch", ""),
        "tta_views": views,
        "provenance": provenance.collect(),
    }
    files.write_json(summary, out_json)
    return summary


def with_truth(table: pd.DataFrame, catalog_csv: str, target: str) -> pd.DataFrame:
    """`table` with the catalog's `target` as `true` where the user's catalog has it."""
    from .sources.local import read_user_csv

    raw = read_user_csv(Path(catalog_csv), "apply catalog")
    if "objID" not in raw.columns:
        raise InputError(
            f"apply catalog {catalog_csv} has no objID column (it has {list(raw.columns)})"
        )
    numeric = (target,) if target in raw.columns else ()
    cat, _, _ = clean_catalog(
        raw,
        require_coords=False,
        numeric=numeric,
        on_bad_value="exclude",
        name=f"apply catalog {catalog_csv}",
    )
    if not numeric:  # still checked, with no truth to add
        return table
    truth = cat[["objID", target]].rename(columns={target: "true"})
    return table.merge(truth.astype({"objID": "Int64"}), on="objID", how="left")


def no_prediction_message(table: pd.DataFrame, inputs_csv: str) -> str:
    """Why an apply run gave no prediction at all: its inputs' statuses and the commonest reason."""
    counts = ", ".join(f"{n} {s}" for s, n in table["status"].value_counts().items())
    reasons = table["reason"].fillna("").astype(str).str.replace(r"^\S+: ", "", regex=True)
    top = reasons[reasons != ""].value_counts()
    why = f"; the commonest reason ({top.iloc[0]} of them): {top.index[0]}" if len(top) else ""
    where = Path(inputs_csv).parent
    return (
        f"no prediction for any of the {len(table)} inputs ({counts}){why}. "
        f"Each input's status is in {where}/inputs.csv and {where}/predictions/"
    )


def header_keywords(info: dict, views: int) -> dict:
    """The FITS header's record of the model, its cutouts (service, layer, bands, size, scale) and
    any declared mismatch of the images it predicted."""
    return {
        "TARGET": info["target"],
        "MODELPX": info["size"],
        "CUTPX": info["cutouts"]["size"],
        "CUTSCALE": info["cutouts"]["scale"],
        "CUTSERV": info["cutouts"].get("service", "sdss"),
        "CUTLAYER": info["cutouts"].get("layer", ""),
        "CUTBANDS": info["cutouts"].get("bands", ""),
        "MISMATCH": bool(info.get("mismatch")),
        "TTAVIEWS": views,
        "SIGSCALE": info["sigma_scale"],
        "SEEDS": ",".join(map(str, info.get("seeds") or [])),
        "MODEL": Path(info["model"]).name,
        "MODELGIT": info["model_provenance"].get("git", ""),
        "GITREV": provenance.git_revision(Path(__file__).parent),
    }


def write_fits(table: pd.DataFrame, info: dict, views: int, path: str) -> None:
    """The result as a FITS binary table: int64 objIDs (null where the input had none), units,
    provenance."""
    from astropy import units as u
    from astropy.io import fits
    from astropy.table import MaskedColumn, Table

    t = Table()
    obj = table["objID"]
    t["objID"] = MaskedColumn(
        obj.fillna(-1).astype("int64").to_numpy(), mask=obj.isna().to_numpy(), fill_value=-1
    )
    for col in table.columns:
        if col == "objID":
            continue
        values = table[col]
        if pd.api.types.is_bool_dtype(values):
            t[col] = values.fillna(False).to_numpy(dtype=bool)
        elif pd.api.types.is_integer_dtype(values):  # exact, with nulls masked
            t[col] = MaskedColumn(
                values.fillna(0).to_numpy(dtype="int64"), mask=values.isna().to_numpy()
            )
        elif pd.api.types.is_numeric_dtype(values):
            t[col] = values.to_numpy(dtype=float, na_value=np.nan)
        else:  # fixed-width text (FITS has no variable-length strings here)
            text = ["" if pd.isna(v) else str(v) for v in values]
            width = max([len(v.encode()) for v in text] + [1])
            t[col] = np.array([v.encode() for v in text], dtype=f"S{width}")
    for col in ("ra", "dec"):
        if col in t.colnames and t[col].dtype.kind == "f":
            t[col].unit = u.deg
    t.meta.update(header_keywords(info, views))
    hdu = fits.table_to_hdu(t)
    for col in (
        "pred",
        "pred_std",
        "true",
    ):  # dex is no FITS-standard unit: written as the usual string
        if col in t.colnames:
            hdu.header[f"TUNIT{t.colnames.index(col) + 1}"] = ("dex", "log10 units of the target")
    hdu.header["COMMENT"] = "pred, pred_std: the predicted value and its calibrated 1-sigma error"
    hdu.header["COMMENT"] = "CUTSCALE: arcsec per pixel of the cutouts the model was trained on"
    if info.get("mismatch"):
        hdu.header["COMMENT"] = f"MISMATCH (allowed): {info['mismatch']}"
    with files.atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp)


# --- in one call, for Python users -----------------------------------------------------------


def apply_model(
    model_path: str,
    images: str,
    out_csv: str,
    *,
    catalog_csv: str | None = None,
    device: str = "auto",
    views: int = 8,
    batch_size: int = 256,
) -> dict:
    """Predict every `{objID}` image in a folder: CSV, FITS and JSON beside `out_csv`."""
    import tempfile

    out = Path(out_csv)
    with tempfile.TemporaryDirectory() as tmp:
        info_json, inputs, shard = f"{tmp}/model.json", f"{tmp}/inputs.csv", f"{tmp}/0.csv"
        model_info(model_path, info_json)
        list_inputs("images", inputs, folder=images)
        predict_shard(
            model_path,
            inputs,
            shard=0,
            n_shards=1,
            out_csv=shard,
            device=device,
            views=views,
            batch_size=batch_size,
        )
        return merge_results(
            inputs,
            [shard],
            info_json,
            out_csv=str(out),
            out_fits=str(out.with_suffix(".fits")),
            out_json=str(out.with_suffix(".json")),
            catalog_csv=catalog_csv,
            views=views,
        )
