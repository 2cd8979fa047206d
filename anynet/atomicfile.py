"""Writing a file so that it is never half written: a temporary file, fsync, one rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterable
from typing import Any

from anynet.errors import InputTypeError, SaveFileError

__all__ = ["atomic_write", "check_path"]


def _fsync_folder(folder: str) -> None:
    if os.name != "posix":
        return  # Windows cannot open a folder for fsync; os.replace is what it offers
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename itself is still atomic
    finally:
        os.close(fd)


def check_path(path: Any) -> str:
    """Return ``path`` as a str, or raise InputTypeError for anything that is not a file path."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"A file path is a str or os.PathLike, got {path!r} of type {type(path).__name__}.")
    path = os.fspath(path)
    if not isinstance(path, str) or not path or "\0" in path:
        raise InputTypeError(f"A file path is a non-empty str without NUL characters, got {path!r}.")
    return path


def atomic_write(path: str | os.PathLike[str], chunks: Iterable[Any]) -> None:
    """Write the byte buffers ``chunks`` to ``path`` so that ``path`` is never half written.

    A temporary file in the same folder gets the bytes, is flushed and fsynced, and then
    replaces ``path`` in one rename; the folder is fsynced so the rename survives a crash.
    Raises SaveFileError when the folder does not exist or the write fails.
    """
    path = check_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise SaveFileError(f"Cannot save to {path!r}: the folder {folder!r} does not exist.")
    if os.path.isdir(path):
        raise SaveFileError(f"Cannot save to {path!r}: it is a folder; give a file name such as 'model.anynet'.")
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    try:
        # O_EXCL: never follow a planted link; mode 0o666 lets the umask decide, as open() does.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise SaveFileError(f"Could not write {path!r}: {exc}") from exc
        raise
    _fsync_folder(folder)
