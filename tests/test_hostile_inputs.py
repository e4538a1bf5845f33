"""Hostile and careless input: every run completes with each galaxy accounted for, or stops before
training with a message naming the problem; no model file runs code; nothing is lost silently."""

import io
import os
import pickle
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import TINY, run_snakemake
from galaxy_cnn import files
from galaxy_cnn.apply import list_inputs, query_body, read_inputs, write_fits, write_targets
from galaxy_cnn.catalog import clean_catalog, id_problem
from galaxy_cnn.errors import CatalogError, InputError, TooManyExcluded
from galaxy_cnn.images import ImageError, decode_image, fits_to_rgb, jpeg_of, read_local_image
from galaxy_cnn.model import MODEL_FORMAT, GalaxyRegressor, ModelFileError, load_model, save_model
from galaxy_cnn.sources import local
from PIL import Image

# --- catalogs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1237648704043942912", ""),
        (" 1237648704043942912 ", ""),
        ("1.237648704043942e+18", "exact integer"),
        ("1237648704043942912.0", "exact integer"),
        ("-5", "sign"),
        ("+5", "sign"),
        ("0", "64-bit"),
        ("12³", "not a number"),
        ("١٢٣", "not a number"),
        ("9223372036854775808", "64-bit"),
        ("", "blank"),
        ("abc", "not a number"),
        ("0x1F", "not a number"),
    ],
)
def test_objids_must_be_exact_64_bit_integers(value, reason):
    got = id_problem(value)
    assert (got == "") if not reason else (reason in got)


def _catalog(tmp_path, text: str, **settings):
    (tmp_path / "cat.csv").write_text(text)
    outputs = {k: str(tmp_path / f"out-{k}") for k in ("catalog", "meta", "rejected")}
    cfg = {"targets": ["oh_p50"], "on_bad_value": "stop", "max_missing_fraction": 0.05} | settings
    meta = local.build_catalog({"user_catalog": str(tmp_path / "cat.csv")}, cfg, outputs)
    return (
        pd.read_csv(outputs["catalog"]),
        meta,
        pd.read_csv(outputs["rejected"], dtype={"objID": str}),
    )


def test_rows_with_rounded_objids_are_rejected_and_listed(tmp_path):
    text = (
        "objID,oh_p50\n"
        + "".join(f"{1237648704043942900 + i},8.9\n" for i in range(19))
        + "1.2376487e+18,8.8\n"
    )
    cat, meta, rejected = _catalog(tmp_path, text)
    assert len(cat) == 19 and meta["rejected_bad_objID"] == 1 and meta["rows_in"] == 20
    assert rejected["objID"].tolist() == ["1.2376487e+18"] and rejected["row"].tolist() == [20]
    assert cat["objID"].dtype == np.int64 and cat["objID"].iloc[0] == 1237648704043942900  # exact


def test_blank_coordinates_do_not_drop_local_rows(tmp_path):
    cat, meta, _ = _catalog(
        tmp_path, "objID,ra,dec,oh_p50\n1,10.0,5.0,8.9\n2,,5.0,8.8\n3,400,5.0,8.7\n"
    )
    assert sorted(cat["objID"]) == [1, 2, 3] and meta["coordinates_blank_or_invalid"] == 2
    assert cat.set_index("objID")["ra"].isna().tolist() == [False, True, True]


def test_a_text_target_stops_naming_column_row_and_value(tmp_path):
    with pytest.raises(CatalogError, match=r"'oh_p50'.*row 2 \(line 3\).*'n/a\?'"):
        _catalog(tmp_path, "objID,oh_p50\n1,8.9\n2,n/a?\n3,8.7\n")
    cat, meta, rejected = _catalog(
        tmp_path,
        "objID,oh_p50\n1,8.9\n2,n/a?\n3,inf\n" + "".join(f"{i},8.8\n" for i in range(4, 60)),
        on_bad_value="exclude",
    )
    assert 2 not in set(cat["objID"]) and 3 not in set(cat["objID"]) and meta["rejected"] == 2
    assert set(rejected["reason"]) == {"oh_p50 is not a number"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("objID,oh_p50\n", "no data rows"),
        ("", "is empty"),
        ("objID,objID,oh_p50\n1,1,8.9\n", "more than once"),
        ("id,oh_p50\n1,8.9\n", "lacks column"),
    ],
)
def test_unusable_catalog_files_stop_with_a_clear_message(tmp_path, text, message):
    with pytest.raises(CatalogError, match=message):
        _catalog(tmp_path, text)


def test_too_many_blank_targets_stop_the_catalog_stage(tmp_path):
    with pytest.raises(TooManyExcluded, match="3 of 10 rows .* no oh_p50 value"):
        _catalog(
            tmp_path,
            "objID,oh_p50\n" + "".join(f"{i},{'' if i < 4 else 8.9}\n" for i in range(1, 11)),
        )


def test_duplicate_objids_that_agree_keep_one_row_and_are_listed(tmp_path):
    cat, meta, rejected = _catalog(tmp_path, "objID,oh_p50\n123,8.9\n0123,8.90\n7,8.7\n")
    assert sorted(cat["objID"]) == [7, 123] and cat.set_index("objID").loc[123, "oh_p50"] == 8.9
    assert meta["duplicate_objID_dropped"] == 1 and "duplicate" in rejected["reason"].iloc[0]


def test_sdss_minus_9999_is_missing_not_a_number():
    raw = pd.DataFrame(
        {"objID": ["5", "6"], "ra": ["1", "2"], "dec": ["3", "4"], "lgm_tot_p50": ["-9999", "10.1"]}
    )
    df, _, _ = clean_catalog(raw)
    assert df["lgm_tot_p50"].isna().tolist() == [True, False]


# --- images ---------------------------------------------------------------------------------


def _png16(arr: np.ndarray) -> bytes:
    h, w = arr.shape[:2]
    colour = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _save(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def test_sixteen_bit_images_are_scaled_not_clipped():
    grey = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    out = decode_image(_png16(grey), 64)
    assert out.dtype == np.uint8 and out[..., 0].max() == 255 and out[..., 0].min() == 0
    assert abs(out[32, 32, 0] - grey[32, 32] / 257) <= 1 and (out[..., 0] == out[..., 2]).all()
    rgb = np.stack([grey, grey // 2, grey // 4], -1)
    out = decode_image(_png16(rgb), 64)
    assert abs(int(out[63, 63, 1]) - int(rgb[63, 63, 1]) // 257) <= 1


def test_alpha_palette_grey_and_cmyk_become_rgb():
    base = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    rgba = np.dstack([base, np.zeros((8, 8), np.uint8)])  # fully transparent: colours must survive
    assert np.array_equal(decode_image(_save(Image.fromarray(rgba, "RGBA")), 8), base)
    assert decode_image(_save(Image.fromarray(base).convert("P")), 8).shape == (8, 8, 3)
    grey = decode_image(_save(Image.fromarray(base[..., 0], "L")), 8)
    assert (grey[..., 0] == base[..., 0]).all() and (grey[..., 1] == grey[..., 2]).all()
    assert decode_image(_save(Image.fromarray(base).convert("CMYK"), "JPEG"), 8).shape == (8, 8, 3)


def test_broken_images_are_errors_that_name_the_file(tmp_path):
    for name, data in [
        ("empty.png", b""),
        ("html.jpg", b"<html>Skyserver Error</html>"),
        ("cut.png", _save(Image.new("RGB", (8, 8)))[:30]),
    ]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ImageError) as err:
            decode_image(tmp_path / name, 8)
        assert name in str(err.value) and "BytesIO" not in str(err.value)
    (tmp_path / "5.jpg").mkdir()  # a folder with an image's name
    with pytest.raises(ImageError, match="5.jpg"):
        decode_image(tmp_path / "5.jpg", 8)


def test_fits_without_finite_data_is_rejected(tmp_path):
    from astropy.io import fits

    fits.PrimaryHDU(np.full((3, 8, 8), np.nan)).writeto(tmp_path / "1.fits")
    with pytest.raises(ImageError, match="no finite"):
        fits_to_rgb(tmp_path / "1.fits", 8)
    cube = np.ones((3, 8, 8))
    cube[2] = np.inf
    fits.PrimaryHDU(cube).writeto(tmp_path / "2.fits")
    with pytest.raises(ImageError, match="band.* i "):
        fits_to_rgb(tmp_path / "2.fits", 8)
    (tmp_path / "3.fits").write_bytes(b"SIMPLE  = T" + b" " * 100)
    with pytest.raises(ImageError):
        read_local_image(tmp_path / "3.fits", 8)


def test_two_files_for_one_objid_are_refused_naming_both(tmp_path):
    arr = np.full((8, 8, 3), 50, np.uint8)
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("11.jpg", "11.png", "12.jpg", "012.jpg", "13.jpg", "notes.jpg"):
        (folder / name).write_bytes(
            jpeg_of(arr) if name.endswith("jpg") else _save(Image.fromarray(arr))
        )
    os.mkfifo(folder / "14.jpg")  # a pipe would block a reader forever
    list_inputs("images", str(tmp_path / "inputs.csv"), folder=str(folder))
    table = read_inputs(str(tmp_path / "inputs.csv")).set_index("input")
    assert (
        table.loc["13.jpg", "status"] == "ok" and (table.drop("13.jpg")["status"] == "failed").all()
    )
    assert (
        "11.jpg, 11.png" in table.loc["11.jpg", "reason"]
        and table.loc["11.png", "reason"] == table.loc["11.jpg", "reason"]
    )
    assert (
        "012.jpg, 12.jpg" in table.loc["12.jpg", "reason"]
        and "not an objID" in table.loc["notes.jpg", "reason"]
    )
    assert "not a regular file" in table.loc["14.jpg", "reason"]


# --- model files ----------------------------------------------------------------------------


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # creates a file when unpickled: code running


def test_a_crafted_model_file_never_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"format": MODEL_FORMAT, "state_dict": {}, "meta": _Payload(str(marker))}, f)
    torch.save(
        {"format": MODEL_FORMAT, "state_dict": {}, "meta": {"x": _Payload(str(marker))}},
        tmp_path / "evil2.pt",
    )
    for name in ("evil.pt", "evil2.pt"):
        with pytest.raises(ModelFileError, match="not a galaxy_cnn model file"):
            load_model(str(tmp_path / name))
    assert not marker.exists()


def test_files_that_are_not_our_models_are_rejected(tmp_path):
    from torchvision.models import resnet18

    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(5000))
    torch.save(resnet18().state_dict(), tmp_path / "resnet.pt")
    torch.save(
        {
            "format": MODEL_FORMAT,
            "members": [resnet18().state_dict()],
            "sigma_scale": 1.0,
            "meta": {"target": "oh_p50", "size": 8},
        },
        tmp_path / "wrong_net.pt",
    )
    torch.save(
        {"format": MODEL_FORMAT, "members": [{}], "sigma_scale": 1.0, "meta": {"size": 8}},
        tmp_path / "no_target.pt",
    )
    torch.save(
        {"format": "galaxy_cnn.model/1", "state_dict": {}, "meta": {"target": "oh_p50", "size": 8}},
        tmp_path / "older.pt",
    )
    for name, message in [
        ("noise.pt", "not a galaxy_cnn model"),
        ("resnet.pt", "expected format"),
        ("wrong_net.pt", "do not fit"),
        ("no_target.pt", "target and size"),
        ("older.pt", "another version of this workflow.*retrain"),
    ]:
        with pytest.raises(ModelFileError, match=message):
            load_model(str(tmp_path / name))
    save_model(
        [GalaxyRegressor(8.9, 0.2)], str(tmp_path / "ours.pt"), {"target": "oh_p50", "size": 8}
    )
    model, meta = load_model(str(tmp_path / "ours.pt"))
    assert meta == {"target": "oh_p50", "size": 8} and float(
        model.members[0].y_mean
    ) == pytest.approx(8.9)


# --- killed runs ----------------------------------------------------------------------------


def test_a_rerun_leaves_no_part_file_of_a_killed_write(tmp_path):
    target = tmp_path / "packed" / "images.npy"
    target.parent.mkdir()
    (target.parent / ".images.npy.part").write_bytes(b"x" * 1000)  # what a kill mid-write leaves
    files.write_bytes(target, b"done")
    assert target.read_bytes() == b"done" and [p.name for p in target.parent.iterdir()] == [
        "images.npy"
    ]


# --- configs, through the real Snakemake ----------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"split": {"fractions": [0.8, 0.2, 0.0], "seed": 1}}, "split.fractions"),
        ({"split": {"fractions": [0.6, 0.2, 0.2], "seed": -1}}, "seed"),
        ({"split": {"fractions": [0.6, 0.2, 0.2], "seed": 1.5}}, "seed"),
        ({"train": {"seed": 2**40}}, "seed"),
        ({"train": {"batch_size": "64"}}, "batch_size"),
        ({"train": {"epochs": 2.5}}, "epochs"),
        ({"train": {"compile": True}}, "train.compile"),
        ({"train": {"freeze_epochs": 1}}, "train.freeze_epochs"),
        ({"train": {"pretrained": "nowhere/resnet34.pth"}}, "train.pretrained"),
        ({"targets": {"oh_p5O": [16]}}, "targets.oh_p5O"),
        ({"targets": {"oh_p50": [0]}}, "targets"),
        ({"targets": {"oh_p50": [12]}}, "targets.oh_p50"),
        ({"synthetic": {"n_galaxies": 12}}, "synthetic.n_galaxies"),
        ({"source": "local", "local": {"catalog": "missing.csv", "images": "."}}, "local.catalog"),
        ({"source": "local", "local": {"images": "."}}, "local.catalog"),
        ({"cutouts": {"size": 16, "scale": 0}}, "scale"),
        ({"predict": {"tta_views": 9}}, "tta_views"),
    ],
)
def test_bad_config_values_stop_before_any_job_without_a_traceback(tmp_path, patch, named):
    cfg = yaml.safe_load(TINY.read_text())
    for key, value in patch.items():
        if (
            isinstance(value, dict)
            and isinstance(cfg.get(key), dict)
            and key not in ("targets", "local")
        ):
            cfg[key] = cfg[key] | value
        else:
            cfg[key] = value
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "-n", "--configfile", str(tmp_path / "bad.yaml"), workdir=tmp_path, check=False
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and named in text, text[-1500:]
    assert "Traceback" not in text and not (tmp_path / "results").exists()


def test_a_key_given_twice_in_the_config_stops_naming_its_line(tmp_path):
    text = (
        TINY.read_text() + "\ntrain:\n  epochs: 3\n"
    )  # a second train block: YAML keeps only this one
    (tmp_path / "twice.yaml").write_text(text)
    proc = run_snakemake(
        "-n", "--configfile", str(tmp_path / "twice.yaml"), workdir=tmp_path, check=False
    )
    out = proc.stdout + proc.stderr
    line = len(TINY.read_text().splitlines()) + 2
    assert proc.returncode != 0 and f"line {line}: key 'train' is given twice" in out, out[-1500:]
    assert "Traceback" not in out and not (tmp_path / "results").exists()


def test_merge_keys_are_not_duplicates_but_a_repeat_inside_a_list_is(tmp_path):
    from galaxy_cnn.checks import duplicate_key_problems

    ok = tmp_path / "merge.yaml"
    ok.write_text(
        "base: &b\n  x: 1\nother: &o\n  z: 3\na:\n  <<: *b\n  x: 5\nd:\n  <<: *b\n  <<: *o\n"
    )
    assert duplicate_key_problems(str(ok)) == []
    (tmp_path / "tuple.yaml").write_text(
        "a: !!python/tuple [1, 2]\n"
    )  # Snakemake reads it; this loader cannot
    assert duplicate_key_problems(str(tmp_path / "tuple.yaml")) == []
    bad = tmp_path / "list.yaml"
    bad.write_text("apply:\n  - {model: a.pt, model: b.pt}\n")
    assert duplicate_key_problems(str(bad)) == [
        f"{bad}, line 2: key 'model' is given twice (first on line 2); "
        "YAML would silently keep only the last"
    ]


def test_an_empty_validation_part_is_allowed(tmp_path):
    cfg = yaml.safe_load(TINY.read_text()) | {"split": {"fractions": [0.8, 0.0, 0.2], "seed": 1}}
    (tmp_path / "ok.yaml").write_text(yaml.safe_dump(cfg))
    run_snakemake("-n", "--configfile", str(tmp_path / "ok.yaml"), workdir=tmp_path)


# --- whole runs on hostile local data -------------------------------------------------------


@pytest.fixture(scope="module")
def local_data(tiny_run_once, tmp_path_factory):
    """60 galaxies as a user's folder and catalog (the tiny synthetic run's cutouts)."""
    work = tmp_path_factory.mktemp("hostile")
    images = work / "images"
    images.mkdir()
    for p in (tiny_run_once / "results" / "cutouts").glob("*.jpg"):
        (images / p.name).write_bytes(p.read_bytes())
    cat = pd.read_csv(tiny_run_once / "results" / "catalog.csv", dtype={"objID": str})
    return work, images, cat[["objID", "ra", "dec", "oh_p50"]]


def _local_run(work, images, cat: pd.DataFrame, name: str, max_missing: float = 0.05, **local_cfg):
    run_dir = work / name
    run_dir.mkdir()
    cat.to_csv(run_dir / "cat.csv", index=False)
    cfg = yaml.safe_load(TINY.read_text()) | {
        "source": "local",
        "targets": {"oh_p50": [4]},
        "local": {"catalog": str(run_dir / "cat.csv"), "images": str(images)} | local_cfg,
    }
    cfg["train"]["batch_size"] = 4
    cfg["cutouts"]["max_missing_fraction"] = max_missing
    (run_dir / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "--configfile", str(run_dir / "cfg.yaml"), "--cores", "2", workdir=run_dir, check=False
    )
    return run_dir, proc


def test_rounded_objids_stop_the_run_before_training(local_data):
    work, images, cat = local_data
    cat = cat.copy()
    rounded = cat.index % 5 < 2  # 40% in spreadsheet float notation
    cat.loc[rounded, "objID"] = [f"{float(v):.15e}" for v in cat.loc[rounded, "objID"]]
    run_dir, proc = _local_run(work, images, cat, "rounded")
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{int(rounded.sum())} of 60 galaxies read" in text and "results/excluded.csv" in text
    assert "exact integer" in text and "Traceback" not in text
    assert not (run_dir / "results" / "models").exists()
    excluded = pd.read_csv(run_dir / "results" / "excluded.csv", dtype={"objID": str})
    assert sorted(excluded["objID"]) == sorted(cat.loc[rounded, "objID"])


def test_a_text_target_stops_the_run_at_the_catalog(local_data):
    work, images, cat = local_data
    cat = cat.copy()
    cat["oh_p50"] = cat["oh_p50"].astype(str)
    cat.loc[7, "oh_p50"] = "high"
    run_dir, proc = _local_run(work, images, cat, "text-target")
    text = proc.stdout + proc.stderr
    assert (
        proc.returncode != 0
        and "'oh_p50'" in text
        and "row 8 (line 9)" in text
        and "'high'" in text
    )
    assert not (run_dir / "results" / "catalog.csv").exists()


def test_a_run_with_a_few_bad_rows_and_images_accounts_for_every_galaxy(local_data, tmp_path):
    work, images, cat = local_data
    mine = tmp_path / "images"
    mine.mkdir()
    for p in images.iterdir():
        (mine / p.name).write_bytes(p.read_bytes())
    cat = cat.copy()
    ids = cat["objID"].tolist()
    (mine / f"{ids[0]}.jpg").write_bytes(b"<html>oops</html>")  # unreadable
    (mine / f"{ids[1]}.png").write_bytes(
        _save(Image.new("RGB", (16, 16)))
    )  # a second image for one objID
    (mine / f"{ids[2]}.jpg").unlink()  # no image
    cat.loc[3, "ra"] = np.nan  # blank coordinate: kept
    cat.loc[len(cat)] = ["12.5", 1.0, 1.0, 8.9]  # a bad objID
    run_dir, proc = _local_run(
        work, mine, cat, "accounted", max_missing=0.1, on_bad_value="exclude"
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-2000:]
    r = run_dir / "results"
    excluded = pd.read_csv(r / "excluded.csv", dtype={"objID": str}).set_index("objID")
    assert set(excluded.index) == {ids[0], ids[1], ids[2], "12.5"}
    assert (
        "several images" in excluded.loc[ids[1], "reason"]
        and f"{ids[1]}.png" in excluded.loc[ids[1], "reason"]
    )
    split = pd.read_csv(r / "split.csv", dtype={"objID": str})
    assert len(split) + len(excluded) == len(
        cat
    )  # every galaxy read: trained on or listed with a reason
    assert ids[3] in set(split["objID"])
    summary = pd.read_csv(r / "tables" / "run_summary.csv").set_index("item")["value"]
    assert summary["excluded before the split"] == "4"


def test_applying_a_crafted_or_broken_model_file_fails_in_one_line_without_running_its_code(
    tmp_path,
):
    marker = tmp_path / "pwned"
    torch.save(
        {"format": MODEL_FORMAT, "state_dict": {}, "meta": {"x": _Payload(str(marker))}},
        tmp_path / "evil.pt",
    )
    (tmp_path / "text.pt").write_text("hello")
    save_model(
        [GalaxyRegressor()],
        str(tmp_path / "nan.pt"),
        {"target": "oh_p50", "size": 4, "cutouts": {"size": 16, "scale": 2.368}},
        float("nan"),
    )
    images = tmp_path / "new"
    images.mkdir()
    (images / "5.jpg").write_bytes(jpeg_of(np.zeros((16, 16, 3), np.uint8)))
    names = ("evil", "text", "nan")
    cfg = yaml.safe_load(TINY.read_text()) | {
        "apply": {n: {"model": str(tmp_path / f"{n}.pt"), "images": str(images)} for n in names}
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "--configfile",
        str(tmp_path / "cfg.yaml"),
        "--cores",
        "1",
        "--keep-going",
        *(f"results/applied/{n}.csv" for n in names),
        workdir=tmp_path,
        check=False,
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in text, text[-3000:]
    assert f"galaxy_cnn: {tmp_path / 'evil.pt'} is not a galaxy_cnn model file" in text
    assert (
        f"galaxy_cnn: {tmp_path / 'text.pt'} is not a galaxy_cnn model file (not a PyTorch archive)"
        in text
    )
    assert f"galaxy_cnn: {tmp_path / 'nan.pt'}: its sigma_scale is nan" in text
    assert not marker.exists() and not list((tmp_path / "results" / "applied").glob("*.csv"))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("train:\n  epochs: 1.0", "train.epochs is 1.0: give an integer"),
        ("train:\n  lr: .nan", "train.lr is nan"),
        ("cutouts:\n  max_missing_fraction: .nan", "max_missing_fraction is nan"),
        ("split:\n  fractions: [.nan, 0.2, 0.2]", "split.fractions[0] is nan"),
        ("targets:\n  oh_p50: [4.0]", "targets.oh_p50[0] is 4.0"),
        ("cv:\n  folds: 1", "cv.folds=1"),
    ],
)
def test_numbers_the_schema_lets_through_are_stopped(tmp_path, text, named):
    cfg = yaml.safe_load(TINY.read_text())
    patch = yaml.safe_load(text)
    for key, value in patch.items():
        cfg[key] = (cfg.get(key) or {}) | value if key != "targets" else value
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "-n", "--configfile", str(tmp_path / "bad.yaml"), workdir=tmp_path, check=False
    )
    text_out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and named in text_out and "Traceback" not in text_out, text_out[
        -1000:
    ]


def test_a_catalog_that_is_not_utf8_is_named_before_any_job(tmp_path):
    (tmp_path / "cat.csv").write_bytes("objID,oh_p50\n1,8.9\n".encode("utf-16"))
    (tmp_path / "images").mkdir()
    cfg = yaml.safe_load(TINY.read_text()) | {
        "source": "local",
        "targets": {"oh_p50": [4]},
        "local": {"catalog": str(tmp_path / "cat.csv"), "images": str(tmp_path / "images")},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(
        "-n", "--configfile", str(tmp_path / "c.yaml"), workdir=tmp_path, check=False
    )
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "local.catalog: cannot read" in text and "Traceback" not in text


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DELETE FROM Galaxy", "one SELECT"),
        ("SELECT objID, ra, dec FROM Galaxy ORDER BY ra", "ORDER BY"),
        ("SELECT objID, ra, dec FROM Galaxy; SELECT 1", "single statement"),
        ("-- SELECT objID, ra, dec FROM Galaxy", "one SELECT"),
        ("SELECT TOP 100 objID, ra, dec FROM Galaxy", "TOP"),
    ],
)
def test_apply_queries_that_cannot_be_paged_are_refused_before_any_request(sql, message):
    with pytest.raises(InputError, match=message):
        query_body(sql)


def test_comments_in_an_apply_query_do_not_swallow_the_next_line():
    body = query_body("SELECT objID, ra, dec -- positions\nFROM Galaxy\nWHERE r < 17 ;")
    assert body == "SELECT objID, ra, dec FROM Galaxy WHERE r < 17"


def test_long_integer_columns_stay_exact(tmp_path):
    """A 19-digit ID column with a blank would become float64 and lose its last digits, on the way
    from the positions file through targets.csv and inputs.csv to the CSV and FITS results."""
    big = "2994535632305170432"
    (tmp_path / "pos.csv").write_text(
        f"objID,ra,dec,survey_id,r\n1237657070091731000,10,1,{big},17.5\n"
        "1237657070091731001,11,2,,\n"
    )
    write_targets(
        "positions",
        str(tmp_path / "pos.csv"),
        {},
        str(tmp_path / "targets.csv"),
        str(tmp_path / "rej.csv"),
    )
    pd.DataFrame(
        {
            "objID": [1237657070091731000, 1237657070091731001],
            "status": ["ok", "missing"],
            "error": ["", "HTTP 404"],
        }
    ).to_csv(tmp_path / "shard.csv", index=False)
    list_inputs(
        "positions",
        str(tmp_path / "inputs.csv"),
        targets_csv=str(tmp_path / "targets.csv"),
        rejected_csv=str(tmp_path / "rej.csv"),
        shard_csvs=[str(tmp_path / "shard.csv")],
        cutout_folder=str(tmp_path),
    )
    table = read_inputs(str(tmp_path / "inputs.csv")).assign(pred=[8.9, np.nan])
    assert str(table.loc[0, "survey_id"]) == big and pd.isna(table.loc[1, "survey_id"])
    info = {
        "target": "oh_p50",
        "size": 8,
        "cutouts": {"size": 64, "scale": 0.296},
        "sigma_scale": 1.0,
        "model": "m.pt",
        "model_provenance": {},
    }
    write_fits(table, info, 8, str(tmp_path / "t.fits"))
    from astropy.table import Table

    t = Table.read(tmp_path / "t.fits")
    assert (
        t["survey_id"].dtype.kind == "i"
        and int(t["survey_id"][0]) == int(big)
        and bool(t["survey_id"].mask[1])
    )
    assert t["objID"].dtype.kind == "i" and int(t["objID"][1]) == 1237657070091731001


def test_positions_with_a_column_the_results_use_are_refused(tmp_path):
    (tmp_path / "pos.csv").write_text("objID,ra,dec,pred\n1237657070091731000,10,1,8.9\n")
    with pytest.raises(InputError, match=r"column\(s\) \['pred'\].*rename"):
        write_targets(
            "positions",
            str(tmp_path / "pos.csv"),
            {},
            str(tmp_path / "t.csv"),
            str(tmp_path / "r.csv"),
        )
    assert not (tmp_path / "t.csv").exists()


def test_duplicate_objids_that_disagree_on_a_target_are_refused_or_listed(tmp_path):
    text = "objID,oh_p50\n123,8.9\n0123,8.5\n7,8.7\n7,8.7\n" + "".join(
        f"{i},8.8\n" for i in range(10, 40)
    )
    with pytest.raises(
        CatalogError, match=r"objID 123 is given in rows 1, 2 with different oh_p50 \(8.9, 8.5\)"
    ):
        _catalog(tmp_path, text)
    cat, meta, rejected = _catalog(tmp_path, text, on_bad_value="exclude")
    assert 123 not in set(cat["objID"]) and 7 in set(cat["objID"]) and len(cat) == 31
    assert meta["duplicate_objID_dropped"] == 2 and meta["rejected"] == 1
    listed = rejected[~rejected["reason"].str.startswith("duplicate objID")]
    assert listed["objID"].tolist() == ["123"] and "different oh_p50" in listed["reason"].iloc[0]
