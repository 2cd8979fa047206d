"""The Keras-book loaders and examples on small files in Keras' layouts, written here.

The real imdb.npz, reuters.npz and boston_housing.npz are not in the shared data folder
(and the tests never go online), so each test writes a small file in the same layout:
object arrays of int lists for IMDB and Reuters, plain float arrays for Boston.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import anynet.datasets as ds
from anynet.datasets import download as dl
from anynet.errors import InputError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def sha(f: Path) -> str:
    return hashlib.sha256(f.read_bytes()).hexdigest()


def _objects(seqs: list[list[int]]) -> np.ndarray:
    a = np.empty(len(seqs), dtype=object)
    a[:] = seqs
    return a


def _sequences(rng: np.random.Generator, y: np.ndarray, vocab: int = 300, marker: int = 500) -> np.ndarray:
    """Random word ranks with class-specific words (ranks marker + 10 * class ...), so labels are learnable."""
    out = []
    for c in y:
        words = rng.integers(1, vocab, rng.integers(8, 30))
        k = rng.integers(4, 8)
        words[:k] = marker + 10 * int(c) + rng.integers(0, 10, k)
        out.append([int(w) for w in rng.permutation(words)])
    return _objects(out)


@pytest.fixture
def imdb_file(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    y, yt = rng.integers(0, 2, 400), rng.integers(0, 2, 300)
    f = tmp_path / "imdb.npz"
    np.savez(f, x_train=_sequences(rng, y), y_train=y, x_test=_sequences(rng, yt), y_test=yt)
    return f


@pytest.fixture
def reuters_file(tmp_path) -> Path:
    rng = np.random.default_rng(1)
    y = rng.choice([0, 3, 4, 11, 19, 45], 1000)  # six of the 46 topics, as Reuters' are unbalanced too
    f = tmp_path / "reuters.npz"
    np.savez(f, x=_sequences(rng, y, marker=300), y=y)
    return f


@pytest.fixture
def boston_file(tmp_path) -> Path:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(506, 13)) * np.linspace(1, 100, 13) + np.linspace(0, 400, 13)
    w = rng.normal(size=13)
    y = 22 + 3 * ((x - x.mean(0)) / x.std(0)) @ w / np.linalg.norm(w) + rng.normal(size=506)
    f = tmp_path / "boston_housing.npz"
    np.savez(f, x=x, y=y)
    return f


def load_example(name: str) -> ModuleType:
    key = f"_anynet_example_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


# -- IMDB -------------------------------------------------------------------------------------

def test_imdb_layout_and_keras_conventions(imdb_file):
    raw = np.load(imdb_file, allow_pickle=True)
    (x, y), (xt, yt) = ds.load_imdb(imdb_file, num_words=520, sha256=sha(imdb_file))
    assert x.shape == (400,) and xt.shape == (300,) and x.dtype == object and isinstance(x[0], list)
    assert y.dtype == np.int64 and yt.dtype == np.int64 and set(np.unique(y)) <= {0, 1}
    # Keras' shuffle: RandomState(113) over the training indices, then over the test indices
    rs = np.random.RandomState(113)
    idx = np.arange(400)
    rs.shuffle(idx)
    first = raw["x_train"][idx[0]]
    assert y[0] == raw["y_train"][idx[0]]
    expect = [1] + [w + 3 if w + 3 < 520 else 2 for w in first]  # start 1, index_from 3, oov 2
    assert x[0] == expect
    assert all(s[0] == 1 and max(s) < 520 for s in np.concatenate([x, xt]))
    (x2, y2), _ = ds.load_imdb(imdb_file, num_words=520, sha256=sha(imdb_file))
    assert list(x2[:5]) == list(x[:5]) and np.array_equal(y2, y)  # deterministic


def test_imdb_maxlen_and_no_oov(imdb_file):
    (x, _), (xt, _) = ds.load_imdb(imdb_file, num_words=100, maxlen=20, oov_char=None, sha256=sha(imdb_file))
    assert all(len(s) < 20 for s in x) and all(max(s) < 100 for s in xt if s)
    assert len(x) < 400


def _hostile_imdb(tmp_path: Path) -> tuple[Path, Path]:
    """Return (an imdb.npz whose x_test, when unpickled, creates a marker file, that marker)."""
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    f = tmp_path / "imdb.npz"
    np.savez(f, x_train=_objects([[1]]), y_train=np.zeros(1), x_test=np.array([Payload()], dtype=object),
             y_test=np.zeros(1))
    return f, marker


def test_unverified_pickles_are_refused_before_reading(tmp_path):
    """A file whose hash nobody vouched for is never unpickled: the payload here would create a file."""
    f, marker = _hostile_imdb(tmp_path)
    with pytest.raises(InputError) as e:
        ds.load_imdb(f)
    msg = str(e.value)
    assert "Refusing" in msg and sha(f) in msg and dl.REGISTRY["keras/imdb.npz"].sha256 in msg and str(f) in msg
    with pytest.raises(InputError, match="Refusing"):
        ds.load_reuters(f, sha256="0" * 64)
    assert not marker.exists()


def test_a_vouched_for_pickle_still_cannot_run_code(tmp_path):
    """Even with the caller's own sha256, only NumPy's array globals are unpickled."""
    f, marker = _hostile_imdb(tmp_path)
    with pytest.raises(InputError, match=r"refused to load pathlib.*Path.touch: only NumPy object arrays are read"):
        ds.load_imdb(f, sha256=sha(f))
    assert not marker.exists()


def test_npz_with_wrong_keys_or_not_npz(tmp_path):
    f = tmp_path / "imdb.npz"
    np.savez(f, a=np.zeros(2))
    with pytest.raises(InputError, match=r"holds arrays \['a'\]; Keras' layout needs"):
        ds.load_imdb(f, sha256=sha(f))
    g = tmp_path / "boston_housing.npz"
    g.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="could not be read as a .npz"):
        ds.load_boston_housing(g)
    with pytest.raises(InputError, match="does not exist"):
        ds.load_boston_housing(tmp_path / "nope.npz")
    with pytest.raises(InputError, match="reuters.npz is not in"):
        ds.load_reuters(tmp_path)


# -- Reuters, Boston ----------------------------------------------------------------------------

def test_reuters_split_and_labels(reuters_file):
    (x, y), (xt, yt) = ds.load_reuters(reuters_file, sha256=sha(reuters_file))
    assert x.shape == (800,) and xt.shape == (200,) and y.dtype == np.int64 and 0 <= y.min() and y.max() <= 45
    (x2, _), _ = ds.load_reuters(reuters_file.parent, sha256=sha(reuters_file), test_split=0.5)
    assert len(x2) == 500


def test_boston_split_matches_keras(boston_file):
    raw = np.load(boston_file)
    (x, y), (xt, yt) = ds.load_boston_housing(boston_file)
    assert x.shape == (404, 13) and xt.shape == (102, 13) and y.shape == (404,) and yt.shape == (102,)
    assert x.dtype == y.dtype == np.float64
    idx = np.arange(506)
    np.random.RandomState(113).shuffle(idx)
    np.testing.assert_array_equal(x, raw["x"][idx[:404]])
    np.testing.assert_array_equal(yt, raw["y"][idx[404:]])


def test_keras_file_through_the_data_root_and_a_local_mirror(boston_file, tmp_path, monkeypatch):
    """The data-root path of a Keras loader: fetched from a mirror on 127.0.0.1, verified, then read."""
    import http.server
    import threading

    pytest.importorskip("pooch")
    item = dl.REGISTRY["keras/boston_housing.npz"]
    monkeypatch.setitem(dl.REGISTRY, item.path, dl.RemoteFile(item.path, sha(boston_file), None, item.urls))
    served = tmp_path / "served" / "keras"
    served.mkdir(parents=True)
    boston_file.rename(served / "boston_housing.npz")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(served.parent), **k)  # noqa
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        for var in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(var, "127.0.0.1")
        monkeypatch.setenv("ANYNET_DATA", str(tmp_path / "root"))
        monkeypatch.setenv("ANYNET_MIRRORS", f"http://127.0.0.1:{server.server_address[1]}")
        (x, _), _ = ds.load_boston_housing()
        assert x.shape == (404, 13) and (tmp_path / "root" / "keras" / "boston_housing.npz").is_file()
    finally:
        server.shutdown()
        server.server_close()


def test_real_imdb_word_index(data_dir, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(data_dir))
    index = ds.load_imdb_word_index()
    assert len(index) == 88584 and index["the"] == 1
    assert ds.decode_sequence([1, 4, 2, 999999], index) == "? the ? ?"


def test_word_index_that_is_not_json(tmp_path):
    f = tmp_path / "imdb_word_index.json"
    f.write_text("{nope")
    with pytest.raises(InputError, match="JSON word index"):
        ds.load_imdb_word_index(f)
    f.write_text(json.dumps({"a": 1}))
    assert ds.load_imdb_word_index(tmp_path) == {"a": 1}


# -- digits, ex4 on the real files --------------------------------------------------------------

def test_load_digits():
    (x, y), (xt, yt) = ds.load_digits()
    assert x.shape == (1437, 8, 8) and xt.shape == (360, 8, 8) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert int(x.max()) == 16 and sorted(np.unique(y)) == list(range(10))
    (x2, _), _ = ds.load_digits()
    np.testing.assert_array_equal(x, x2)
    with pytest.raises(InputError, match="test_fraction"):
        ds.load_digits(test_fraction=1.5)


def test_load_digits_needs_no_scikit_learn_and_equals_its_copy(monkeypatch):
    from anynet.datasets.digits import _read_all

    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        sk_load_digits = None
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as on a bare install
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    x, y = _read_all()
    (xtr, ytr), (xte, yte) = ds.load_digits()
    assert x.shape == (1797, 8, 8) and y.shape == (1797,) and len(xtr) + len(xte) == 1797
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    monkeypatch.undo()
    if sk_load_digits is not None:
        bunch = sk_load_digits()
        np.testing.assert_array_equal(x, bunch.images)
        np.testing.assert_array_equal(y, bunch.target)


def test_a_damaged_copy_of_the_digits_is_never_parsed(monkeypatch):
    from anynet.datasets import digits

    monkeypatch.setattr(digits, "DIGITS_SHA256", "0" * 64)
    with pytest.raises(InputError, match=r"anynet's copy of the digits .* has sha256 09f66e6d.*reinstall anynet-nn"):
        ds.load_digits()


def test_load_ex4_default_root_verifies_the_weights(data_dir, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(data_dir))
    d = ds.load_ex4()
    assert d["Theta1"].shape == (25, 401) and d["Theta2"].shape == (10, 26)


# -- the examples end to end ---------------------------------------------------------------------

def test_imdb_example(imdb_file, capsys):
    out = load_example("imdb_binary").main(
        ["--data", str(imdb_file), "--sha256", sha(imdb_file), "--val", "100", "--epochs", "8",
         "--final-epochs", "8", "--batch-size", "32", "--num-words", "1000"])
    h = out["history"]
    assert len(h["loss"]) == 8 and h["loss"][-1] < h["loss"][0] and 1 <= out["best_epoch"] <= 8
    assert out["test_accuracy"] > 0.8, out  # the marker words make the labels learnable
    printed = capsys.readouterr().out
    assert "1. 8 epochs on 300 reviews" in printed and "2. retrained 8 epochs on all 400 reviews" in printed


def test_reuters_example_both_variants_agree(reuters_file, capsys):
    out = load_example("reuters_multiclass").main(
        ["--data", str(reuters_file), "--sha256", sha(reuters_file), "--val", "100", "--epochs", "4",
         "--final-epochs", "8", "--batch-size", "32", "--num-words", "1000"])
    assert out["categorical_test_accuracy"] > 0.5, out
    assert out["sparse_test_accuracy"] == pytest.approx(out["categorical_test_accuracy"], abs=0.02)
    assert out["random_baseline"] < 0.3 < out["categorical_test_accuracy"] - 0.3


def test_boston_example(boston_file, capsys):
    out = load_example("boston_kfold").main(["--data", str(boston_file), "--epochs", "20", "--final-epochs", "20"])
    assert len(out["fold_mae"]) == 4 and out["mean_mae"] == pytest.approx(np.mean(out["fold_mae"]))
    assert out["test_mae"] < 3.0, out  # noise std 1: a fitted network is off by ~1, a constant guess by ~2.4
    printed = capsys.readouterr().out
    assert "fold 4/4: 303 train / 101 validation" in printed and "test MAE" in printed


@pytest.mark.parametrize("name, file", [("imdb_binary", "keras/imdb.npz"), ("reuters_multiclass", "keras/reuters.npz"),
                                        ("boston_kfold", "keras/boston_housing.npz")])
def test_examples_say_what_is_missing(name, file, tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    monkeypatch.setenv("ANYNET_OFFLINE", "1")
    with pytest.raises(SystemExit) as e:
        load_example(name).main([])
    msg = str(e.value.code)
    assert file in msg and dl.REGISTRY[file].sha256 in msg and str(tmp_path / file) in msg and "by hand" in msg
