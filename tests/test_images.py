import io

import numpy as np
import pandas as pd
import pytest
import torch
from galaxy_cnn import images
from galaxy_cnn.augment import dihedral, random_dihedral, random_shift
from PIL import Image


def _jpeg(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_downsample_is_the_block_mean_rounded_half_up():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    out = images.downsample(x, 2)
    assert out.shape == (3, 2, 2, 3) and out.dtype == np.uint8
    for n in range(3):
        for i in range(2):
            for j in range(2):
                block = x[n, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4].astype(float).mean(axis=(0, 1))
                assert np.array_equal(out[n, i, j], np.floor(block + 0.5).astype(np.uint8))


def test_downsample_to_one_pixel_is_the_image_mean_and_keeps_native_size():
    x = np.zeros((1, 4, 4, 3), np.uint8)
    x[0, :2] = 255  # half white -> 127.5 -> 128
    assert images.downsample(x, 1)[0, 0, 0].tolist() == [128, 128, 128]
    assert images.downsample(x, 4).shape == (1, 4, 4, 3)
    with pytest.raises(ValueError, match="integer factor"):
        images.downsample(x, 3)


def test_decode_checks_size_and_truncation():
    arr = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    data = _jpeg(arr)
    assert images.decode_image(data, 32).shape == (32, 32, 3)
    with pytest.raises(images.ImageError, match="expected 64x64"):
        images.decode_image(data, 64)
    with pytest.raises(images.ImageError):
        images.decode_image(data[: len(data) // 2], 32)
    with pytest.raises(images.ImageError):
        images.decode_image(b"<html>Skyserver Error</html>", 32)


def test_pack_lists_unreadable_cutouts_instead_of_dropping_them(tmp_path):
    good = np.full((16, 16, 3), 100, np.uint8)
    (tmp_path / "1.jpg").write_bytes(_jpeg(good))
    (tmp_path / "2.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "3.jpg").write_bytes(_jpeg(np.zeros((8, 8, 3), np.uint8)))
    pd.DataFrame({"objID": [1, 2, 3, 4], "status": ["ok", "ok", "ok", "failed"]}).to_csv(
        tmp_path / "m.csv", index=False
    )
    (tmp_path / "m.json").write_text(
        '{"source": "local", "image": {"size": 16, "scale": 1.0}, "galaxies_read": 4, '
        '"excluded_by_reason": {"no cutout (failed)": 1}, "max_missing_fraction": 0.8}'
    )
    report = images.pack_cutouts(
        str(tmp_path / "m.csv"),
        str(tmp_path / "m.json"),
        "excluded.csv",
        folder=str(tmp_path),
        size=16,
        images=str(tmp_path / "a.npy"),
        index=str(tmp_path / "i.csv"),
        report=str(tmp_path / "r.json"),
    )
    arr, index = images.load_packed(str(tmp_path / "a.npy"), str(tmp_path / "i.csv"))
    assert index["objID"].tolist() == [1] and arr.shape[1:] == (16, 16, 3)
    assert (
        report["packed"] == 1 and report["undecodable"] == 2 and set(report["rejected"]) == {2, 3}
    )
    assert (
        report["cutouts"] == {"source": "local", "size": 16, "scale": 1.0}
        and report["excluded_so_far"] == 3
    )
    assert "2.jpg" in report["rejected"][2] and "BytesIO" not in report["rejected"][2]
    assert abs(int(arr[index["row"][0]].mean()) - 100) <= 2


def test_real_cutouts_pack(shared_data, tmp_path):
    cat = pd.read_csv(shared_data / "sdss-sample" / "catalog.csv")
    paths = [str(shared_data / "sdss-sample" / "images" / f"{o}.jpg") for o in cat["objID"][:50]]
    arr, errors = images.pack_images(paths, 128, workers=2, chunk=16)
    assert errors == [""] * 50 and arr.shape == (50, 128, 128, 3)
    assert 5 < arr.mean() < 100  # dark sky, bright centre


def test_dihedral_views_are_the_eight_distinct_symmetries():
    x = torch.arange(9.0).reshape(1, 1, 3, 3)
    views = {tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}
    assert len(views) == 8
    assert torch.equal(dihedral(x, 0), x)
    assert torch.equal(dihedral(x, 4), x.transpose(-1, -2))
    assert torch.equal(dihedral(x, 3), torch.rot90(x, 2, dims=(-2, -1)))


def test_random_dihedral_applies_each_samples_own_symmetry():
    x = torch.randn(16, 3, 5, 5)
    ks = torch.arange(16) % 8
    out = random_dihedral(x, ks)
    for i in range(16):
        assert torch.equal(out[i], dihedral(x[i : i + 1], int(ks[i]))[0])


def test_random_shift_moves_pixels():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6)
    out = random_shift(x, torch.tensor([[0, 0], [1, -2]]), 2)
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1, :, :5, 2:], x[1, :, 1:, :4])  # content moves up 1, right 2


def test_fits_cubes_become_skyserver_like_rgb(tmp_path):
    from astropy.io import fits
    from galaxy_cnn.images import fits_to_rgb

    yy, xx = np.indices((32, 32))
    galaxy = np.exp(-((yy - 16) ** 2 + (xx - 16) ** 2) / 8.0)
    cube = np.stack([0.5 * galaxy, 1.0 * galaxy, 1.5 * galaxy])  # g, r, i: a red galaxy
    fits.PrimaryHDU(cube).writeto(tmp_path / "1.fits")
    rgb = fits_to_rgb(tmp_path / "1.fits", 32)
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    r, g, b = rgb[16, 16].astype(int)
    assert r > g > b and rgb[0, 0].max() < 5  # i -> R, g -> B; empty sky stays dark
    with pytest.raises(images.ImageError, match="expected 64x64"):
        fits_to_rgb(tmp_path / "1.fits", 64)
    fits.PrimaryHDU(galaxy).writeto(tmp_path / "2.fits")
    with pytest.raises(images.ImageError, match="g, r, i cube"):
        fits_to_rgb(tmp_path / "2.fits", 32)
