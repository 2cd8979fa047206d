"""load_boston_housing from the StatLib CSV: Keras' split rebuilt exactly.

The expected rows are those printed by Keras' ``boston_housing.load_data()`` (and recorded
in the shared data folder's README), not computed by anynet.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import anynet.datasets as ds
from anynet.datasets.keras import BOSTON_CSV
from anynet.errors import InputError
from tests.conftest import DATA_DIR

CSV = DATA_DIR / BOSTON_CSV
needs_csv = pytest.mark.skipif(not CSV.is_file(), reason=f"{CSV} is not here")

KERAS_X_TRAIN_0 = [1.23247, 0, 8.14, 0, 0.538, 6.142, 91.7, 3.9769, 4, 307, 21, 396.9, 18.72]
KERAS_Y_TRAIN_5 = [15.2, 42.3, 50.0, 21.1, 17.7]


@needs_csv
def test_the_data_root_csv_gives_keras_split(monkeypatch, tmp_path):
    root = tmp_path / "root"
    (root / "boston").mkdir(parents=True)
    shutil.copy(CSV, root / BOSTON_CSV)
    monkeypatch.setenv("ANYNET_DATA", str(root))
    monkeypatch.setenv("ANYNET_OFFLINE", "1")
    (x, y), (xt, yt) = ds.load_boston_housing()
    assert x.shape == (404, 13) and xt.shape == (102, 13) and y.shape == (404,) and yt.shape == (102,)
    np.testing.assert_array_equal(x[0], KERAS_X_TRAIN_0)
    np.testing.assert_array_equal(y[:5], KERAS_Y_TRAIN_5)
    raw = np.loadtxt(CSV, delimiter=",", skiprows=1)
    perm = np.random.RandomState(113).permutation(506)
    np.testing.assert_array_equal(xt, raw[perm[404:], :13])


@needs_csv
def test_a_csv_path_or_its_folder(tmp_path):
    (x, y), _ = ds.load_boston_housing(CSV)
    np.testing.assert_array_equal(y[:5], KERAS_Y_TRAIN_5)
    (x2, _), _ = ds.load_boston_housing(CSV.parent, test_split=0.5)
    assert len(x2) == 253


def test_a_damaged_data_root_csv_or_row_is_refused(monkeypatch, tmp_path):
    root = tmp_path / "root"
    (root / "boston").mkdir(parents=True)
    (root / BOSTON_CSV).write_text('"CRIM","ZN"\n1,2,3\n')
    monkeypatch.setenv("ANYNET_DATA", str(root))
    with pytest.raises(InputError, match="not the StatLib Boston CSV"):
        ds.load_boston_housing()
    bad = tmp_path / "mine.csv"
    bad.write_text("h\n" + ",".join(["1"] * 14) + "\n1,2,x\n")
    with pytest.raises(InputError, match="line 3"):
        ds.load_boston_housing(bad)
