"""Getting data files: a registry of known files, SHA-256 checks, and atomic downloads.

Every file anynet can download is listed in :data:`REGISTRY` with its path under the data
root (``mnist/train-images-idx3-ubyte.gz``), its SHA-256, its size where known and the
URLs it is published at. :func:`fetch` returns the path of a verified copy:

- a file already under the data root is hashed before it is used (once per process for
  a given size and mtime), and used only when its SHA-256 matches: a truncated or altered
  copy is never parsed, it is replaced;
- otherwise the mirrors are tried in turn with the standard library (``urllib``; no
  extra package). Each gets an overall deadline for the whole file (:func:`deadline`:
  ``timeout=``, ``$ANYNET_DOWNLOAD_TIMEOUT``, or two minutes plus the file at 100 kB/s),
  so a mirror that trickles a byte a second is given up on and the next one tried; a
  progress line goes to a terminal. Each download goes to a temporary ``.part`` file
  beside the target, is checked for size and SHA-256, flushed to disk (fsync) and only
  then renamed over the target (``os.replace``). A failed, cut or wrong download leaves
  no file behind, and the ``.part`` file of a download that was killed is removed by the
  next fetch of that file (:func:`sweep_partial`);
- when nothing works the error says first what to do (``ANYNET_DATA``, or where to put
  the file by hand), then why, with each URL tried, then the file's size and SHA-256.

No network is used when the files are present. ``ANYNET_OFFLINE=1`` (or ``download=False``)
turns downloading off; ``ANYNET_MIRRORS="URL [URL ...]"`` (or ``mirrors=``) replaces the
published URLs by base URLs under which the files lie at their registry paths, for a
local mirror (the tests use one on 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import socket
import sys
import tempfile
import urllib.error
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from anynet.datasets import transfer  # noqa: F401  (tests reach it as download.transfer)
from anynet.datasets.root import ENV_VAR, data_dir

from anynet.datasets.transfer import ENV_TIMEOUT, TIMEOUT_S, Progress, http_get, partial_prefix, sweep_partial
from anynet.errors import InputError

__all__ = ["RemoteFile", "REGISTRY", "DownloadError", "fetch", "entry", "sha256_of", "is_verified",
           "mirror_urls", "deadline", "sweep_partial", "ENV_MIRRORS", "ENV_OFFLINE", "ENV_TIMEOUT"]

PathLike = Union[str, "os.PathLike[str]"]

ENV_MIRRORS = "ANYNET_MIRRORS"
ENV_OFFLINE = "ANYNET_OFFLINE"


class DownloadError(InputError):
    """A data file is missing or damaged and could not be downloaded; the message says how to get it."""


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file: its ``path`` under the data root, SHA-256, size and URLs."""

    path: str
    sha256: str
    size: int | None
    urls: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def _idx(folder: str, sha: dict[str, tuple[str, int]], bases: tuple[str, ...]) -> list[RemoteFile]:
    return [RemoteFile(f"{folder}/{name}", h, n, tuple(b + name for b in bases)) for name, (h, n) in sha.items()]


_MNIST_BASES = ("https://ossci-datasets.s3.amazonaws.com/mnist/",          # torchvision's mirror
                "https://storage.googleapis.com/cvdf-datasets/mnist/",     # TensorFlow's mirror
                "http://yann.lecun.com/exdb/mnist/")                       # the original
_FASHION_BASES = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras' copy
                  "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")   # Zalando's
_KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# SHA-256 and sizes of MNIST, Fashion-MNIST, ex4weights.mat and imdb_word_index.json were
# checked against the files in the project's shared data folder (whose MD5s equal the
# published ones); those of the Keras .npz files are Keras' own published hashes.
_FILES = [
    *_idx("mnist", {
        "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    }, _MNIST_BASES),
    *_idx("fashion-mnist", {
        "train-images-idx3-ubyte.gz": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        "train-labels-idx1-ubyte.gz": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        "t10k-images-idx3-ubyte.gz": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        "t10k-labels-idx1-ubyte.gz": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    }, _FASHION_BASES),
    RemoteFile("ex4/ex4weights.mat", "7eb93f42e50219a15de2378c7f8e4ecdd71005fc19e0e519cd52d5ce4d74e1f5", 79592,
               ("https://raw.githubusercontent.com/dibgerge/ml-coursera-python-assignments/"
                "d901c1ca71766bda9d5994af4a27a44f82ae3ae5/Exercise4/Data/ex4weights.mat",)),
    RemoteFile("keras/imdb_word_index.json", "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6",
               1641221, (_KERAS + "imdb_word_index.json",)),
    RemoteFile("keras/imdb.npz", "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f", None,
               (_KERAS + "imdb.npz",)),
    RemoteFile("keras/reuters.npz", "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916", None,
               (_KERAS + "reuters.npz",)),
    RemoteFile("keras/boston_housing.npz", "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
               57026, (_KERAS + "boston_housing.npz",)),
]

#: Every file :func:`fetch` knows, by its path under the data root.
REGISTRY: dict[str, RemoteFile] = {f.path: f for f in _FILES}


def entry(path: str) -> RemoteFile:
    """Return the registry entry of ``path`` (e.g. ``'mnist/t10k-labels-idx1-ubyte.gz'``)."""
    try:
        return REGISTRY[path]
    except KeyError:
        from anynet.errors import unknown_name

        raise unknown_name("data file", path, REGISTRY) from None


# -- hashing -----------------------------------------------------------------------------------

_verified: dict[tuple[str, int, int, int], str] = {}


def sha256_of(path: PathLike) -> str:
    """Return the hex SHA-256 of the file at ``path``, remembered per process by size and mtime."""
    p = os.path.realpath(os.fspath(path))
    st = os.stat(p)
    key = (p, st.st_size, st.st_mtime_ns, st.st_ino)
    if key not in _verified:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _verified[key] = h.hexdigest()
    return _verified[key]


def is_verified(path: PathLike, sha256: str) -> bool:
    """Return whether the file at ``path`` exists and its SHA-256 is ``sha256``."""
    try:
        return sha256_of(path) == sha256.lower()
    except OSError:
        return False


# -- where from --------------------------------------------------------------------------------

def _offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def mirror_urls(item: RemoteFile, mirrors: list[str] | tuple[str, ...] | str | None = None) -> list[str]:
    """Return the URLs to try for ``item``: under ``mirrors`` (or ``$ANYNET_MIRRORS``), else its own."""
    if mirrors is None:
        mirrors = os.environ.get(ENV_MIRRORS) or None
    if mirrors is None:
        return list(item.urls)
    bases = re.split(r"[\s,]+", mirrors.strip()) if isinstance(mirrors, str) else list(mirrors)
    return [b.rstrip("/") + "/" + item.path for b in bases if b]


def _origin(root: PathLike | None) -> tuple[Path, str]:
    if root is not None:
        return data_dir(root), "the path argument"
    env = os.environ.get(ENV_VAR)
    return data_dir(), (f"{ENV_VAR}={env!r}" if env else f"the default data root; {ENV_VAR} is not set")


def _facts(item: RemoteFile) -> str:
    size = f"{item.size} bytes, " if item.size else ""
    more = f" (and {len(item.urls) - 1} more mirror{'s' * (len(item.urls) > 2)})" if len(item.urls) > 1 else ""
    return f"The file: {size}sha256 {item.sha256}; published at {item.urls[0]}{more}."


def _error(item: RemoteFile, dest: Path, why: str, tried: list[str] | None = None) -> DownloadError:
    """Return the error a user meets: what to do first, then why, then the file's facts, in short lines."""
    lines = [f"Cannot get {item.path}. To fix: set ANYNET_DATA to a folder that holds {item.path}, "
             f"or put the file by hand at {str(dest)!r}.", f"Why: {why}"]
    lines += [f"  {t}" for t in tried or []]
    lines.append(_facts(item))
    return DownloadError("\n".join(lines))


# -- fetching ----------------------------------------------------------------------------------

def fetch(path: str, root: PathLike | None = None, *, download: bool | None = None,
          mirrors: list[str] | tuple[str, ...] | str | None = None, progress: bool | None = None,
          timeout: float | None = None) -> Path:
    """Return the path of a verified copy of registry file ``path`` under the data root.

    ``root`` is the data root (default :func:`anynet.datasets.data_dir`: ``$ANYNET_DATA``,
    else the platform cache folder). A present file is used when its SHA-256 matches; a
    missing or mismatching one is downloaded unless ``download`` is False (None: unless
    ``ANYNET_OFFLINE`` is set). Each mirror gets ``timeout`` seconds for the whole file
    (default :func:`deadline`), then the next is tried. Raises :class:`DownloadError` that
    says first what to do, then why (each URL tried and what went wrong), then the file's
    size and SHA-256.
    """
    item = entry(path)
    seconds = deadline(item, timeout)
    root_dir, origin = _origin(root)
    dest = root_dir / item.path
    problem = "it is missing"
    if dest.is_file():
        if is_verified(dest, item.sha256):
            return dest
        problem = (f"the copy there is damaged or not the published file ({dest.stat().st_size} bytes, sha256 "
                   f"{sha256_of(dest)[:16]}...), so it was not used")
    where = f"{problem} (data root {str(root_dir)!r}, from {origin})"
    if download is False or (download is None and _offline()):
        why = "download=False" if download is False else f"{ENV_OFFLINE}={os.environ.get(ENV_OFFLINE)!r}"
        raise _error(item, dest, f"{where}, and downloading is off ({why}).")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _error(item, dest, f"{where}; cannot create {str(dest.parent)!r} to download it: {exc}.") from None
    if not os.access(dest.parent, os.W_OK):
        raise _error(item, dest, f"{where}; {str(dest.parent)!r} is not writable, so it cannot be downloaded there.")
    sweep_partial(item.name, dest.parent)
    failures = []
    for url in mirror_urls(item, mirrors):
        try:
            _download(url, item, dest, progress, seconds)
            return dest
        except Exception as exc:  # any failure of one mirror: note it and try the next
            failures.append(f"{url}: {_reason(exc)}")
    raise _error(item, dest, f"{where}; downloading failed from every mirror. No partial file was kept.",
                 failures or ["no URL to try"])


def deadline(item: RemoteFile, timeout: float | None = None) -> float:
    """Return the seconds one mirror gets for all of ``item``: ``timeout``, else ``$ANYNET_DOWNLOAD_TIMEOUT``,
    else 2 minutes plus the time the file takes at 100 kB/s (10 minutes when its size is unknown)."""
    source = "timeout"
    if timeout is None and os.environ.get(ENV_TIMEOUT):
        timeout, source = os.environ[ENV_TIMEOUT], ENV_TIMEOUT
    if timeout is None:
        return 120.0 + (item.size / 100_000 if item.size else 480.0)
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{source} is the seconds a download may take, a number > 0; got {timeout!r}.")
    return value


def _reason(exc: BaseException) -> str:
    """Return why one mirror failed, in one short line."""
    if isinstance(exc, urllib.error.HTTPError):
        text = f"HTTP {exc.code} {exc.reason}"
    elif isinstance(exc, urllib.error.URLError):
        text = f"cannot connect ({exc.reason})"
    elif isinstance(exc, (socket.timeout, TimeoutError)):
        text = f"no data for {TIMEOUT_S} s ({exc})"
    else:
        text = str(exc).strip() or type(exc).__name__
    text = " ".join(text.split())
    return text if len(text) <= 160 else text[:157] + "..."


def _download(url: str, item: RemoteFile, dest: Path, progress: bool | None, seconds: float) -> None:
    """Download ``url`` to a temporary file beside ``dest``, verify it, and rename it to ``dest``."""
    if progress is None:
        progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
    host = urllib.parse.urlsplit(url).netloc or url
    report = Progress(f"downloading {item.path} from {host}", None, progress)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=partial_prefix(item.name), suffix=".part")
    try:
        with os.fdopen(fd, "w+b") as f:
            http_get(url, f, seconds, report)
            f.flush()
            os.fsync(f.fileno())
        size = os.path.getsize(tmp)
        if item.size is not None and size != item.size:
            raise DownloadError(f"got {size} bytes, expected {item.size}")
        got = sha256_of(tmp)
        if got != item.sha256:
            raise DownloadError(f"got {size} bytes with sha256 {got}, expected sha256 {item.sha256}")
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)
        sha256_of(dest)  # remembered for this process: the next check costs one stat
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not possible on every platform (Windows); the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
