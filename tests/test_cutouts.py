"""Cutout stamps: a file made with other settings is never trusted, whatever its pixels."""

import numpy as np
import pandas as pd
from galaxy_cnn import cutouts, files
from galaxy_cnn.images import decode_image, jpeg_of
from galaxy_cnn.sources import synthetic as synthetic_source


def test_a_stamped_jpeg_decodes_to_the_same_pixels(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    plain = jpeg_of(arr)
    stamp = cutouts.cutout_stamp(source="sdss", size=16, scale=0.3, ra=1.0, dec=2.0)
    stamped = cutouts.stamp_jpeg(plain, stamp)
    assert np.array_equal(decode_image(stamped, 16), decode_image(plain, 16))
    assert cutouts.read_stamp(stamped) == stamp and cutouts.read_stamp(plain) is None
    path = tmp_path / "1.jpg"
    path.write_bytes(stamped)
    assert cutouts.is_verified(path, 16, stamp)
    other = cutouts.cutout_stamp(source="sdss", size=16, scale=0.4, ra=1.0, dec=2.0)
    assert other != stamp and not cutouts.is_verified(path, 16, other)
    assert not cutouts.is_verified(path, 32, stamp)  # right stamp, wrong size
    path.write_bytes(plain)
    assert not cutouts.is_verified(path, 16, stamp)  # an unstamped file (older run, another tool)


def test_rendering_skips_verified_files_and_remakes_stale_ones(tmp_path):
    from galaxy_cnn import synthetic

    cat, truth, _ = synthetic.draw_population(6, 1)
    files.write_csv(cat, tmp_path / "catalog.csv")
    files.write_csv(truth, tmp_path / "truth.csv")
    inputs = {"truth": str(tmp_path / "truth.csv")}
    image, settings = {"size": 16, "scale": 2.4}, {"seed": 1, "render": {}}
    out = tmp_path / "cut"

    def render(**changes):
        synthetic_source.cutouts_shard(
            str(tmp_path / "catalog.csv"),
            inputs,
            shard=0,
            n_shards=1,
            image=image | changes,
            settings=settings,
            folder=str(out),
            out_manifest=str(tmp_path / "m.csv"),
        )
        return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("*.jpg")}

    first = render()
    assert len(first) == 6 and (pd.read_csv(tmp_path / "m.csv")["status"] == "ok").all()
    assert render() == first  # nothing remade
    (out / ".123.jpg.part").write_bytes(
        b"half"
    )  # a killed run's leftover for a galaxy of this shard
    (out / f".{cat['objID'][0]}.jpg.part").write_bytes(b"half")
    rescaled = render(scale=2.0)
    assert all(rescaled[n][1] != first[n][1] for n in first)
    assert not (out / f".{cat['objID'][0]}.jpg.part").exists()
    assert (out / ".123.jpg.part").exists()  # not this shard's: left alone
