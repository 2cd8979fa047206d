"""The data sets of the Keras book's chapter 3, from Keras' own .npz files.

- ``load_imdb``: 50000 movie reviews (25000 train, 25000 test) as lists of word indices,
  labelled 0 (negative) or 1 (positive); ``imdb.npz`` holds ``x_train``, ``y_train``,
  ``x_test``, ``y_test``.
- ``load_reuters``: 11228 newswires in 46 topics; ``reuters.npz`` holds ``x`` and ``y``,
  split 80/20 after a seeded shuffle (8982 train, 2246 test).
- ``load_boston_housing``: 506 suburbs, 13 features, median home value in k$;
  ``boston_housing.npz`` holds ``x`` and ``y``, split 80/20 (404 train, 102 test).

Shuffles and index conventions are Keras' (``seed=113``, ``start_char=1``, ``oov_char=2``,
``index_from=3``), so the splits equal those of ``keras.datasets.*.load_data``.

**Pickles.** Keras stores the IMDB and Reuters sequences as NumPy object arrays, which
``np.load`` can only read by unpickling, and unpickling a file can run arbitrary code.
anynet reads such a file only after its SHA-256 matched Keras' published hash (or a
``sha256=`` you pass for a file you trust), and even then through a restricted unpickler
that knows only the three names NumPy needs to rebuild an object array (``_reconstruct``,
``ndarray``, ``dtype``): a pickle that names anything else is refused, not run. The
Boston file holds plain arrays and is read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
from numpy.lib import format as npy

from anynet.datasets.download import REGISTRY, fetch, is_verified, sha256_of
from anynet.datasets.idx import data_dir
from anynet.errors import InputError

__all__ = ["load_imdb", "load_reuters", "load_boston_housing", "load_imdb_word_index", "decode_sequence"]

PathLike = Union[str, "os.PathLike[str]"]
Mirrors = Union[str, Sequence[str], None]
Splits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _locate(key: str, path: PathLike | None, download: bool | None, mirrors: Mirrors) -> Path:
    """Return the file: fetched (verified) under the data root, or your own copy at ``path``."""
    if path is None:
        return fetch(key, download=download, mirrors=mirrors)
    p = Path(os.fspath(path)).expanduser()
    name = key.rsplit("/", 1)[-1]
    if p.is_dir():
        if download:
            return fetch(key, p, download=True, mirrors=mirrors)
        for c in (p / name, p / key):
            if c.is_file():
                return c
        raise InputError(f"{name} is not in {str(p)!r} nor in {str(p / 'keras')!r}; pass the file itself, "
                         f"or leave path unset to download it into the data root.")
    if p.is_file():
        return p
    raise InputError(f"{str(p)!r} does not exist; pass Keras' {name} (or its folder), or leave path unset "
                     f"to download it into the data root.")


def _load_pickled_npz(key: str, path: PathLike | None, sha256: str | None, download: bool | None,
                      mirrors: Mirrors, keys: Sequence[str]) -> dict[str, np.ndarray]:
    """Return the arrays ``keys`` of a Keras .npz of object arrays, after checking its SHA-256."""
    f = _locate(key, path, download, mirrors)
    want = (sha256 or REGISTRY[key].sha256).lower()
    if not is_verified(f, want):
        whose = "the sha256 you passed" if sha256 else f"Keras' published {key.rsplit('/', 1)[-1]}"
        raise InputError(
            f"Refusing to read {str(f)!r}: its sha256 is {sha256_of(f)}, not {want} ({whose}). Its arrays are "
            f"pickled and unpickling an unverified file can run arbitrary code. If you trust this file, pass "
            f"sha256={sha256_of(f)!r} (--sha256 in the examples); else delete it and let anynet download Keras' copy.")
    return _read_npz(f, keys, allow_pickle=True)


class _ObjectArrayUnpickler(pickle.Unpickler):
    """Unpickles a NumPy object array and nothing else: any other global is refused."""

    _ALLOWED = {"_reconstruct": ("numpy._core.multiarray", "numpy.core.multiarray"),
                "ndarray": ("numpy",), "dtype": ("numpy",)}

    def find_class(self, module: str, name: str) -> Any:
        if module in self._ALLOWED.get(name, ()):
            return np._core.multiarray._reconstruct if name == "_reconstruct" else getattr(np, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only NumPy object arrays are read")


def _read_member(z: zipfile.ZipFile, key: str, allow_pickle: bool) -> np.ndarray:
    with z.open(f"{key}.npy") as fp:
        version = npy.read_magic(fp)
        shape, fortran, dtype = (npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0)(fp)
        if not dtype.hasobject:
            data = np.frombuffer(fp.read(), dtype=dtype)
            return data.reshape(shape, order="F" if fortran else "C")
        if not allow_pickle:
            raise ValueError(f"{key} is an object array, which this file must not hold")
        array = _ObjectArrayUnpickler(fp).load()
        if not isinstance(array, np.ndarray):
            raise ValueError(f"{key} is not an array")
        return array


def _read_npz(f: Path, keys: Sequence[str], *, allow_pickle: bool) -> dict[str, np.ndarray]:
    """Return the arrays ``keys`` of the .npz ``f``; object arrays only with ``allow_pickle``, and
    then through :class:`_ObjectArrayUnpickler`."""
    try:
        with zipfile.ZipFile(f) as z:
            files = sorted(n[:-4] for n in z.namelist() if n.endswith(".npy"))
            missing = [k for k in keys if k not in files]
            if missing:
                raise InputError(f"{str(f)!r} holds arrays {files}; Keras' layout needs {list(keys)} "
                                 f"(missing {missing}).")
            return {k: _read_member(z, k, allow_pickle) for k in keys}
    except InputError:
        raise
    except Exception as exc:  # BadZipFile, ValueError, UnpicklingError, OSError: not a readable .npz
        raise InputError(f"{str(f)!r} could not be read as a .npz file: {exc}") from None


def _shift(xs: Any, *, start_char: int | None, index_from: int) -> list[list[int]]:
    """Keras' codes: the word of rank r becomes ``r + index_from``, after ``start_char`` if given."""
    out = [[int(w) + index_from for w in x] for x in xs]
    return [[start_char] + x for x in out] if start_char is not None else out


def _cut(xs: list[list[int]], *, num_words: int | None, skip_top: int, oov_char: int | None) -> list[list[int]]:
    """Keep codes in ``skip_top..num_words - 1``; others become ``oov_char`` (or are dropped if it is None)."""
    if not num_words:
        num_words = max((max(x) for x in xs if x), default=0) + 1
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in x] for x in xs]
    return [[w for w in x if skip_top <= w < num_words] for x in xs]


def _objects(seqs: list[list[int]]) -> np.ndarray:
    """Return a 1-D object array of lists (np.array would make a 2-D array of equal-length lists)."""
    a = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        a[i] = s
    return a


def _shuffled(rng: np.random.RandomState, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(x) != len(y):
        raise InputError(f"the file holds {len(x)} sequences but {len(y)} labels.")
    idx = np.arange(len(x))
    rng.shuffle(idx)
    return x[idx], y[idx]


def _drop_long(x: list[list[int]], y: np.ndarray, maxlen: int | None) -> tuple[list[list[int]], np.ndarray]:
    if not maxlen:
        return x, y
    keep = [i for i, s in enumerate(x) if len(s) < maxlen]  # Keras keeps len < maxlen
    return [x[i] for i in keep], y[keep]


def load_imdb(path: PathLike | None = None, *, num_words: int | None = 10000, skip_top: int = 0,
              maxlen: int | None = None, seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2,
              index_from: int = 3, sha256: str | None = None, download: bool | None = None,
              mirrors: Mirrors = None) -> Splits:
    """Return IMDB's ``((x_train, y_train), (x_test, y_test))``: object arrays of int lists, int64 labels.

    ``x_*`` have shape (25000,), each entry a Python list of word indices (``start_char``
    first, the word of rank r as ``r + index_from``, words outside the ``num_words`` most
    frequent as ``oov_char``); ``y_*`` have shape (25000,), dtype int64, 0 or 1. The
    arguments are Keras'. ``path``: your copy of ``imdb.npz`` (or its folder); by default
    the data root's ``keras/imdb.npz``, downloaded when missing. The file must match Keras'
    SHA-256 or ``sha256`` before it is unpickled (see the module's note).
    """
    keys = ("x_train", "y_train", "x_test", "y_test")
    z = _load_pickled_npz("keras/imdb.npz", path, sha256, download, mirrors, keys)
    rng = np.random.RandomState(seed)
    x_train, y_train = _shuffled(rng, z["x_train"], np.asarray(z["y_train"], dtype=np.int64))
    x_test, y_test = _shuffled(rng, z["x_test"], np.asarray(z["y_test"], dtype=np.int64))
    splits = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        xs, y = _drop_long(_shift(x, start_char=start_char, index_from=index_from), y, maxlen)
        splits.append((xs, y))
    n = len(splits[0][0])
    xs = _cut(splits[0][0] + splits[1][0], num_words=num_words, skip_top=skip_top, oov_char=oov_char)
    return (_objects(xs[:n]), splits[0][1]), (_objects(xs[n:]), splits[1][1])


def load_reuters(path: PathLike | None = None, *, num_words: int | None = 10000, skip_top: int = 0,
                 maxlen: int | None = None, test_split: float = 0.2, seed: int = 113, start_char: int | None = 1,
                 oov_char: int | None = 2, index_from: int = 3, sha256: str | None = None,
                 download: bool | None = None, mirrors: Mirrors = None) -> Splits:
    """Return Reuters' ``((x_train, y_train), (x_test, y_test))``: object arrays of int lists, int64 topics.

    With Keras' defaults ``x_train`` has shape (8982,) and ``x_test`` (2246,), each entry a
    list of word indices coded as in :func:`load_imdb`; ``y_*`` are int64 topics 0..45.
    ``path``, ``sha256``, ``download``, ``mirrors`` as in :func:`load_imdb` (file
    ``keras/reuters.npz``).
    """
    if not 0 < test_split < 1:
        raise InputError(f"test_split must lie strictly between 0 and 1, got {test_split!r}.")
    z = _load_pickled_npz("keras/reuters.npz", path, sha256, download, mirrors, ("x", "y"))
    x, y = _shuffled(np.random.RandomState(seed), z["x"], np.asarray(z["y"], dtype=np.int64))
    xs, y = _drop_long(_shift(x, start_char=start_char, index_from=index_from), y, maxlen)
    xs = _cut(xs, num_words=num_words, skip_top=skip_top, oov_char=oov_char)
    n = int(len(xs) * (1 - test_split))
    return (_objects(xs[:n]), y[:n]), (_objects(xs[n:]), y[n:])


def load_boston_housing(path: PathLike | None = None, *, test_split: float = 0.2, seed: int = 113,
                        download: bool | None = None, mirrors: Mirrors = None) -> Splits:
    """Return Boston's ``((x_train, y_train), (x_test, y_test))``: float64 (n, 13) features, (n,) prices.

    With the defaults 404 training and 102 test suburbs, shuffled as Keras does; ``y`` is the
    median home value in thousands of dollars. ``path``: your ``boston_housing.npz`` or the
    StatLib ``boston_house_prices.csv`` (or a folder holding one), read as it is; by default
    the data root's ``keras/boston_housing.npz``, else its ``boston/boston_house_prices.csv``
    (SHA-256 checked), else Keras' ``.npz`` downloaded. The CSV holds the same 506 suburbs in
    the original order, so the same ``RandomState(seed)`` shuffle gives Keras' split exactly.
    """
    if not 0 < test_split < 1:
        raise InputError(f"test_split must lie strictly between 0 and 1, got {test_split!r}.")
    csv = _boston_csv(path)
    if csv is not None:
        x, y = _read_boston_csv(csv)
    else:
        f = _locate("keras/boston_housing.npz", path, download, mirrors)
        z = _read_npz(f, ("x", "y"), allow_pickle=False)
        x, y = np.asarray(z["x"], dtype=np.float64), np.asarray(z["y"], dtype=np.float64).reshape(-1)
    if x.ndim != 2 or len(x) != len(y):
        raise InputError(f"Boston data: x has shape {x.shape} and y {y.shape}; expected (n, features) and (n,).")
    x, y = _shuffled(np.random.RandomState(seed), x, y)
    n = int(len(x) * (1 - test_split))
    return (x[:n], y[:n]), (x[n:], y[n:])


BOSTON_CSV = "boston/boston_house_prices.csv"
BOSTON_CSV_SHA256 = "04ea3ed0aa63691cfedf388349eafc1213e91e00f8e4d31747534692c0f1ce02"


def _boston_csv(path: PathLike | None) -> Path | None:
    """Return the CSV to read instead of Keras' .npz, or None to go the .npz way."""
    if path is not None:
        p = Path(os.fspath(path)).expanduser()
        if p.suffix.lower() == ".csv":
            return p
        if p.is_dir() and not any((p / n).is_file() for n in ("boston_housing.npz", "keras/boston_housing.npz")):
            return next((c for c in (p / "boston_house_prices.csv", p / BOSTON_CSV) if c.is_file()), None)
        return None
    root = data_dir()
    if (root / "keras" / "boston_housing.npz").is_file() or not (root / BOSTON_CSV).is_file():
        return None
    csv = root / BOSTON_CSV
    if not is_verified(csv, BOSTON_CSV_SHA256):
        raise InputError(f"{str(csv)!r} is not the StatLib Boston CSV (sha256 {sha256_of(csv)}, expected "
                         f"{BOSTON_CSV_SHA256}); delete it to use Keras' boston_housing.npz instead.")
    return csv


def _read_boston_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return (x (n, 13), y (n,)) from a Boston CSV: header lines, then rows of 13 features and MEDV."""
    if not path.is_file():
        raise InputError(f"{str(path)!r} does not exist; pass the Boston CSV or leave path unset.")
    rows: list[list[float]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            values = [float(v) for v in line.strip().split(",")]
        except ValueError:
            if rows:
                raise InputError(f"{str(path)!r} line {n} is not 14 numbers: {line[:80]!r}.") from None
            continue  # a header line
        if len(values) != 14:
            if rows:
                raise InputError(f"{str(path)!r} line {n} has {len(values)} values, expected 14 (13 features, MEDV).")
            continue
        rows.append(values)
    if not rows:
        raise InputError(f"{str(path)!r} holds no rows of 13 features and MEDV.")
    data = np.asarray(rows, dtype=np.float64)
    return data[:, :13], data[:, 13]


def load_imdb_word_index(path: PathLike | None = None, *, download: bool | None = None,
                         mirrors: Mirrors = None) -> dict[str, int]:
    """Return IMDB's word -> rank dict (88584 words, ``'the'`` is 1); add ``index_from`` for x's codes."""
    f = _locate("keras/imdb_word_index.json", path, download, mirrors)
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise InputError(f"{str(f)!r} could not be read as a JSON word index: {exc}") from None


def decode_sequence(seq: Sequence[int], word_index: dict[str, int], *, index_from: int = 3,
                    unknown: str = "?") -> str:
    """Return the words of a coded sequence, joined by spaces (codes below ``index_from`` as ``unknown``)."""
    reverse = {rank + index_from: word for word, rank in word_index.items()}
    return " ".join(reverse.get(int(i), unknown) for i in seq)
