"""anynet.datasets: read_idx on the real MNIST files and on small files written here."""

from __future__ import annotations

import gzip
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import anynet.datasets as ds
from anynet.datasets import load_fashion_mnist, load_mnist, read_idx
from anynet.errors import InputError

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]  # shared/data/README.md
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def idx_bytes(a: np.ndarray, magic: int | None = None) -> bytes:
    """The IDX encoding of a uint8 array (magic 0x0800 | ndim unless given)."""
    magic = (0x0800 | a.ndim) if magic is None else magic
    return struct.pack(">I", magic) + struct.pack(f">{a.ndim}I", *a.shape) + a.astype(np.uint8).tobytes()


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# -- small files ------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_read_idx_round_trip(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 7
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    suffix = ".gz" if gz else ""
    got_images = read_idx(write(tmp_path / f"img-idx3-ubyte{suffix}", idx_bytes(images), gz))
    got_labels = read_idx(str(write(tmp_path / f"lab-idx1-ubyte{suffix}", idx_bytes(labels), gz)))
    assert got_images.dtype == np.uint8 and got_images.shape == (2, 3, 4)
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.dtype == np.uint8 and got_labels.shape == (5,)
    np.testing.assert_array_equal(got_labels, labels)
    got_labels[0] = 1  # a writable array, not a view of read-only bytes


def test_read_idx_detects_gzip_by_content(tmp_path):
    labels = np.array([3, 1, 4], dtype=np.uint8)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "labels.idx", idx_bytes(labels), gz=True)), labels)


def test_read_idx_magic_numbers(tmp_path):
    labels = np.array([1, 2], dtype=np.uint8)
    assert idx_bytes(labels)[:4] == struct.pack(">I", 2049)
    assert idx_bytes(np.zeros((1, 2, 2), np.uint8))[:4] == struct.pack(">I", 2051)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_truncated_payload(tmp_path, gz):
    data = idx_bytes(np.ones((3, 4, 4), np.uint8))[:-5]
    f = write(tmp_path / ("short.gz" if gz else "short"), data, gz)
    with pytest.raises(InputError, match="truncated") as e:
        read_idx(f)
    assert str(f) in str(e.value) and "(3, 4, 4)" in str(e.value) and "43 bytes" in str(e.value)


def test_truncated_gzip_stream(tmp_path):
    full = gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8).reshape(2, 10, 10)))
    f = tmp_path / "cut-idx3-ubyte.gz"
    f.write_bytes(full[: len(full) // 2])
    with pytest.raises(InputError, match="truncated") as e:
        read_idx(f)
    assert str(f) in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no gzip traceback chained


def test_corrupt_gzip_stream(tmp_path):
    full = bytearray(gzip.compress(idx_bytes(np.arange(100, dtype=np.uint8))))
    full[-8] ^= 0xFF  # break the CRC in the trailer
    f = write(tmp_path / "bad-crc.gz", bytes(full))
    with pytest.raises(InputError, match="corrupt gzip") as e:
        read_idx(f)
    assert str(f) in str(e.value)


def test_gz_name_but_not_gzip(tmp_path):
    f = write(tmp_path / "fake.gz", b"hello world")
    with pytest.raises(InputError, match="not a gzip file"):
        read_idx(f)


@pytest.mark.parametrize("data, words", [
    (b"", "too short"),
    (b"\x00\x00\x08", "too short"),
    (struct.pack(">I", 2051) + struct.pack(">I", 1), "announces 3 dimensions"),
], ids=["empty", "three-bytes", "header-cut"])
def test_truncated_header(tmp_path, data, words):
    f = write(tmp_path / "header", data)
    with pytest.raises(InputError, match="truncated") as e:
        read_idx(f)
    assert words in str(e.value) and str(f) in str(e.value)


@pytest.mark.parametrize("magic", [0x12345678, 0x00000800, 0x01000801], ids=hex)
def test_wrong_magic(tmp_path, magic):
    f = write(tmp_path / "wrong-magic", idx_bytes(np.zeros(4, np.uint8), magic=magic))
    with pytest.raises(InputError, match="not an IDX file") as e:
        read_idx(f)
    msg = str(e.value)
    assert str(magic) in msg and "2049" in msg and "2051" in msg and str(f) in msg


def test_other_idx_type_is_refused(tmp_path):
    f = write(tmp_path / "floats", struct.pack(">I", 0x00000D01) + struct.pack(">I", 1) + b"\x00" * 4)
    with pytest.raises(InputError, match="only unsigned-byte"):
        read_idx(f)


def test_wrong_length_too_long(tmp_path):
    f = write(tmp_path / "long-idx1-ubyte", idx_bytes(np.arange(5, dtype=np.uint8)) + b"\x00\x00")
    with pytest.raises(InputError, match="wrong length") as e:
        read_idx(f)
    assert "2 too many" in str(e.value) and str(f) in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_idx(tmp_path / "nope.gz")


# -- folders ----------------------------------------------------------------------------------

def test_missing_folder_mentions_anynet_data(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("ANYNET_OFFLINE", "1")  # the data root downloads what is missing; not in this test
    assert ds.data_dir() == tmp_path / "nowhere"
    with pytest.raises(InputError) as e:
        load_mnist()
    msg = str(e.value)
    assert "ANYNET_DATA" in msg and "train-images-idx3-ubyte.gz" in msg and str(tmp_path / "nowhere" / "mnist") in msg
    with pytest.raises(InputError, match="ANYNET_DATA") as e:
        load_fashion_mnist(tmp_path)
    assert str(tmp_path / "fashion-mnist") in str(e.value)


def test_data_dir_default_and_argument(tmp_path, monkeypatch):
    monkeypatch.delenv("ANYNET_DATA", raising=False)
    monkeypatch.setenv("ANYNET_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "pooch", None)  # without pooch: ~/.anynet/data, as before
    assert ds.data_dir() == tmp_path / ".anynet" / "data"
    assert ds.data_dir(tmp_path / "x") == tmp_path / "x"
    with pytest.raises(InputError, match="ANYNET_DATA is not set") as e:
        load_mnist()
    assert str(tmp_path / ".anynet" / "data" / "mnist") in str(e.value)


def _fake_mnist(folder: Path, n_train: int = 6, n_test: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train),
              rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test)]
    for name, a in zip(FILES, arrays):
        write(folder / name, idx_bytes(a.astype(np.uint8)), gz=True)


def test_load_from_folder_or_parent(tmp_path):
    _fake_mnist(tmp_path / "mnist")
    for path in (tmp_path, tmp_path / "mnist", str(tmp_path)):
        (x, y), (xt, yt) = load_mnist(path)
        assert x.shape == (6, 28, 28) and y.shape == (6,) and xt.shape == (4, 28, 28) and yt.shape == (4,)
        assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8


def test_one_missing_file_is_named(tmp_path):
    _fake_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(InputError) as e:
        load_mnist(tmp_path)
    msg = str(e.value)
    assert "'t10k-labels-idx1-ubyte.gz' is missing" in msg and "more" not in msg.split("looked")[0]
    assert str(tmp_path / "mnist") in msg and "ANYNET_DATA" in msg


def test_mismatched_counts(tmp_path):
    _fake_mnist(tmp_path)
    write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes(np.zeros(5, np.uint8)), gz=True)
    with pytest.raises(InputError, match="6 images but .* 5 labels"):
        load_mnist(tmp_path)


def test_truncated_file_in_data_set(tmp_path):
    _fake_mnist(tmp_path)
    f = tmp_path / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[:-20])
    with pytest.raises(InputError, match="t10k-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)


# -- the real files ---------------------------------------------------------------------------

def test_real_mnist_labels(data_dir):
    labels = read_idx(data_dir / "mnist" / "train-labels-idx1-ubyte.gz")
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(labels, minlength=10).tolist() == MNIST_TRAIN_COUNTS


def test_real_mnist(data_dir):
    (x, y), (xt, yt) = load_mnist(data_dir)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert x.dtype == y.dtype == xt.dtype == yt.dtype == np.uint8
    assert y[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert int(x.max()) == 255 and int(x.min()) == 0
    assert (data_dir / "mnist").is_dir()


def test_real_mnist_through_env(data_dir, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(data_dir))
    assert ds.data_dir() == data_dir
    (_, y), (_, yt) = load_mnist()
    assert y[:5].tolist() == [5, 0, 4, 1, 9] and yt.shape == (10000,)


def test_real_fashion_mnist(data_dir):
    (x, y), (xt, yt) = load_fashion_mnist(data_dir)
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == [6000] * 10
    assert np.bincount(yt, minlength=10).tolist() == [1000] * 10


def test_real_file_truncated_copy(data_dir, tmp_path):
    src = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    f = tmp_path / src.name
    shutil.copyfile(src, f)
    f.write_bytes(f.read_bytes()[:3000])
    with pytest.raises(InputError, match="truncated") as e:
        read_idx(f)
    assert str(f) in str(e.value)
