"""Reading IDX files (the format of MNIST and Fashion-MNIST) and loading those data sets.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension, then the
values in C order. The magic is ``0x00 0x00 <type> <ndim>``; MNIST uses type ``0x08``
(unsigned byte): 2049 (``0x00000801``) for label files, shape (n,), and 2051
(``0x00000803``) for image files, shape (n, rows, cols). Files may be gzip-compressed.

Every problem with a file (missing, truncated, corrupt gzip stream, wrong magic, a
payload that does not match the header) raises :class:`anynet.errors.InputError` naming
the file and the problem.

Where the loaders look: a ``path`` you pass is your own folder, read as it is and never
written to. Without ``path`` the files live under the data root (:func:`data_dir`), where
each is checked against its SHA-256 before it is read and downloaded when it is missing or
damaged (see :mod:`anynet.datasets.download`).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np

from anynet.datasets.root import DEFAULT_DATA_DIR, ENV_VAR, data_dir, default_data_dir
from anynet.errors import InputError

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "data_dir", "default_data_dir", "ENV_VAR", "DEFAULT_DATA_DIR"]

PathLike = Union[str, "os.PathLike[str]"]
Mirrors = Union[str, Sequence[str], None]
#: ``((x_train, y_train), (x_test, y_test))``, as Keras' ``load_data()`` returns them.
Split = tuple[np.ndarray, np.ndarray]
Splits = tuple[Split, Split]


#: IDX type codes; only unsigned bytes (the MNIST family) are read.
_UBYTE = 0x08
_TYPE_NAMES = {0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int",
               0x0D: "float", 0x0E: "double"}
LABELS_MAGIC = 2049
IMAGES_MAGIC = 2051

_GZIP_MAGIC = b"\x1f\x8b"

#: The four files of MNIST and Fashion-MNIST (same names in both), by split.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


# -- IDX --------------------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    """Return the file's bytes, gunzipped when it is a gzip file (by content, not by name)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"IDX file {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise InputError(f"IDX file {str(path)!r} is a folder, not a file.") from None
    except OSError as e:
        raise InputError(f"Cannot read IDX file {str(path)!r}: {e.strerror or e}.") from None
    if raw[:2] != _GZIP_MAGIC:
        if str(path).endswith(".gz"):
            raise InputError(f"IDX file {str(path)!r} is named .gz but is not a gzip file "
                             f"(it starts with {raw[:4].hex(' ') or 'nothing: it is empty'}).")
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError:
        raise InputError(f"IDX file {str(path)!r} is truncated: its gzip stream ends early "
                         f"({len(raw)} compressed bytes); download it again.") from None
    except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise InputError(f"IDX file {str(path)!r} is a corrupt gzip file ({e}); download it again.") from None


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes, plain or gzip-compressed.

    Returns a writable ``uint8`` NumPy array with the shape the header gives: ``(n,)`` for a
    label file (magic 2049), ``(n, rows, cols)`` for an image file (magic 2051).

    Raises :class:`anynet.errors.InputError`, naming the file and the problem, when the file
    is missing, is a truncated or corrupt gzip stream, has a wrong magic number, holds
    another IDX type than unsigned byte, or its payload is shorter or longer than its
    dimensions say.
    """
    p = Path(os.fspath(path))
    data = _read_bytes(p)
    name = str(p)
    if len(data) < 4:
        raise InputError(f"IDX file {name!r} is truncated: {len(data)} bytes, too short for the 4-byte magic number.")
    zero, dtype_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    magic = int.from_bytes(data[:4], "big")
    if zero != 0 or dtype_code not in _TYPE_NAMES or ndim == 0:
        raise InputError(f"{name!r} is not an IDX file: its magic number is {magic} (0x{magic:08x}); "
                         f"expected {LABELS_MAGIC} (labels) or {IMAGES_MAGIC} (images).")
    if dtype_code != _UBYTE:
        raise InputError(f"IDX file {name!r} holds {_TYPE_NAMES[dtype_code]} values (magic {magic}); "
                         f"only unsigned-byte IDX files ({LABELS_MAGIC}, {IMAGES_MAGIC}) can be read.")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(f"IDX file {name!r} is truncated: its magic {magic} announces {ndim} dimensions "
                         f"({header} header bytes) but it holds only {len(data)} bytes.")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(shape)
    got = len(data) - header
    if got < expected:
        raise InputError(f"IDX file {name!r} is truncated: its header gives shape {shape} ({expected} bytes of "
                         f"data) but only {got} bytes follow it; download it again.")
    if got > expected:
        raise InputError(f"IDX file {name!r} has the wrong length: its header gives shape {shape} "
                         f"({expected} bytes of data) but {got} bytes follow it ({got - expected} too many).")
    return np.frombuffer(data, dtype=np.uint8, count=expected, offset=header).reshape(shape).copy()


def _has_all(folder: Path) -> bool:
    return all((folder / f).is_file() for f in MNIST_FILES.values())


def _find_folder(subdir: str, path: PathLike | None) -> Path:
    """Return the folder holding the four files of ``subdir`` ('mnist', 'fashion-mnist')."""
    if path is not None:
        root = Path(os.fspath(path)).expanduser()
        candidates = [root, root / subdir]
        origin = f"the path argument {str(root)!r}"
    else:
        root = data_dir()
        candidates = [root / subdir]
        env = os.environ.get(ENV_VAR)
        origin = (f"{ENV_VAR}={env!r}" if env else f"the default data root {str(root)!r} ({ENV_VAR} is not set)")
    for folder in candidates:
        if _has_all(folder):
            return folder
    # Name the first missing file in the most likely folder: one holding some files, else the
    # data-set folder.
    folder = next((c for c in candidates if any((c / f).is_file() for f in MNIST_FILES.values())), candidates[-1])
    missing = [f for f in MNIST_FILES.values() if not (folder / f).is_file()]
    looked = " and ".join(repr(str(c)) for c in candidates)
    raise InputError(
        f"{subdir} file {missing[0]!r} is missing" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        + f": looked in {looked}, from {origin}. Put the four files {sorted(MNIST_FILES.values())} in "
        f"<root>/{subdir}/ and set {ENV_VAR}=<root> (or pass path=); a folder you pass is read as it is, "
        f"without downloading (leave path unset, or pass download=True, to download).")


def _folder(subdir: str, path: PathLike | None, download: bool | None, mirrors: Mirrors) -> Path:
    """Return the folder with the four verified files: your folder as it is, or the data root's."""
    if path is not None and not download:
        return _find_folder(subdir, path)
    from anynet.datasets.download import fetch

    for name in MNIST_FILES.values():
        f = fetch(f"{subdir}/{name}", path, download=download, mirrors=mirrors)
    return f.parent


def _load(subdir: str, path: PathLike | None, download: bool | None = None, mirrors: Mirrors = None) -> Splits:
    folder = _folder(subdir, path, download, mirrors)
    arrays = {k: read_idx(folder / f) for k, f in MNIST_FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        xf, yf = folder / MNIST_FILES[f"{split}_images"], folder / MNIST_FILES[f"{split}_labels"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise InputError(f"{str(xf)!r} should hold images of shape (n, 28, 28), got shape {x.shape}.")
        if y.ndim != 1:
            raise InputError(f"{str(yf)!r} should hold labels of shape (n,), got shape {y.shape}.")
        if x.shape[0] != y.shape[0]:
            raise InputError(f"{str(xf)!r} holds {x.shape[0]} images but {str(yf)!r} holds {y.shape[0]} labels.")
        if y.size and int(y.max()) > 9:
            raise InputError(f"{str(yf)!r} holds label {int(y.max())}; {subdir} labels are 0..9.")
    return ((arrays["train_images"], arrays["train_labels"]), (arrays["test_images"], arrays["test_labels"]))


def load_mnist(path: PathLike | None = None, *, download: bool | None = None, mirrors: Mirrors = None) -> Splits:
    """Load MNIST as Keras does: ``((x_train, y_train), (x_test, y_test))``.

    ``x_train`` is uint8 of shape (60000, 28, 28) with values 0..255, ``y_train`` uint8 of
    shape (60000,) with digits 0..9; the test arrays have 10000 samples.

    ``path`` is your folder holding the four ``*-ubyte.gz`` files, or a folder with an
    ``mnist/`` subfolder holding them, read as it is. By default the files come from
    ``<data root>/mnist`` (``$ANYNET_DATA``, else the cache folder), SHA-256 verified and
    downloaded when missing or damaged (``download=False`` or ``ANYNET_OFFLINE=1``: never;
    ``download=True``: also into ``path``). Missing or damaged files raise
    :class:`anynet.errors.InputError` saying which, where, and the checksum expected.
    """
    return _load("mnist", path, download, mirrors)


def load_fashion_mnist(path: PathLike | None = None, *, download: bool | None = None, mirrors: Mirrors = None) -> Splits:
    """Load Fashion-MNIST as Keras does: ``((x_train, y_train), (x_test, y_test))``.

    ``x_train`` is uint8 of shape (60000, 28, 28), ``y_train`` uint8 of shape (60000,) with
    classes 0..9 (T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag,
    Ankle boot); the test arrays have 10000 samples.

    ``path``, ``download`` and ``mirrors`` work as for :func:`load_mnist`; the data root's
    folder is ``fashion-mnist/``.
    """
    return _load("fashion-mnist", path, download, mirrors)
