import numpy as np
import pandas as pd
import pytest
from galaxy_cnn.split import make_split, split_ids


def test_fractions_disjoint_and_complete():
    ids = np.arange(10_000, 20_000)
    s = split_ids(ids, [0.6, 0.2, 0.2], seed=5)
    assert s["objID"].is_unique and set(s["objID"]) == set(ids)
    counts = s["split"].value_counts()
    assert (counts["train"], counts["valid"], counts["test"]) == (6000, 2000, 2000)


def test_seeded_and_independent_of_order():
    rng = np.random.default_rng(0)
    ids = rng.choice(10**15, 500, replace=False)
    a = split_ids(ids, [0.6, 0.2, 0.2], seed=1)
    b = split_ids(ids[::-1], [0.6, 0.2, 0.2], seed=1)
    c = split_ids(ids, [0.6, 0.2, 0.2], seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert (a["split"] != c["split"]).any()


def test_duplicates_removed_and_counted(tmp_path):
    pd.DataFrame({"objID": [5, 6, 6, 7, 8], "row": range(5)}).to_csv(
        tmp_path / "i.csv", index=False
    )
    split, report = make_split(str(tmp_path / "i.csv"), [0.5, 0.25, 0.25], 0)
    assert report["duplicates_removed"] == 1 and len(split) == 4


def test_bad_fractions_named():
    with pytest.raises(ValueError, match="split.fractions"):
        split_ids(np.arange(10), [0.6, 0.3, 0.3], 0)
