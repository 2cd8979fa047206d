"""Safetensors files with NumPy only: written atomically, read strictly, never executed.

The format (https://github.com/huggingface/safetensors) is 8 bytes holding the header
length ``N`` (unsigned, little-endian), ``N`` bytes of JSON header, then the tensors' raw
little-endian bytes back to back. The header maps each tensor name to ``{"dtype": "F32",
"shape": [...], "data_offsets": [begin, end]}`` (offsets counted from the end of the
header) and may hold ``"__metadata__"``, a map of strings to strings.

:func:`read` checks everything before it returns anything: the header length against the
file size, the JSON, every dtype and shape, and that the offsets tile the data exactly.
It builds arrays from raw bytes only, so nothing in a file can run code (no pickle).
:func:`write` writes a temporary file in the same folder, flushes and fsyncs it, renames
it over the target and fsyncs the folder: a crash leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import struct
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from anynet.errors import InputTypeError, SaveFileError

__all__ = ["read", "write", "atomic_write", "DTYPES"]

#: safetensors dtype codes and the little-endian NumPy dtypes they hold
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v).newbyteorder("<"): k for k, v in DTYPES.items()}
MAX_HEADER = 100_000_000  # the reference implementation's limit
_ENTRY_KEYS = {"dtype", "shape", "data_offsets"}

# First bytes of files people may hand us by mistake, for a clearer message.
_MAGIC = [(b"PK\x03\x04", "a zip archive (a NumPy .npz?)"), (b"\x93NUMPY", "a NumPy .npy file"),
          (b"\x89HDF", "an HDF5 file (a Keras .h5?)"), (b"\x80", "a Python pickle (anynet never unpickles files)")]


def _fail(path: Any, problem: str) -> SaveFileError:
    return SaveFileError(f"{os.fspath(path)!r} {problem}")


def _what_it_is(head: bytes) -> str:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"; it looks like {what}"
    return ""


# -- writing ------------------------------------------------------------------------------

def _code(a: np.ndarray, name: str) -> str:
    code = _CODES.get(a.dtype.newbyteorder("<"))
    if code is None:
        raise InputTypeError(f"Tensor {name!r} has dtype {a.dtype}, which safetensors cannot hold; "
                             f"use one of {sorted(DTYPES)}.")
    return code


def encode(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> list[Any]:
    """Return the file's contents as a list of byte buffers (header first, then each tensor)."""
    header: dict[str, Any] = {}
    if metadata:
        bad = [(k, v) for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))]
        if bad:
            raise InputTypeError(f"safetensors metadata maps strings to strings, got {bad[0]!r}.")
        header["__metadata__"] = dict(metadata)
    chunks, offset = [], 0
    for name, a in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise InputTypeError(f"A tensor name is a non-empty string other than '__metadata__', got {name!r}.")
        a = np.asarray(a)
        code = _code(a, name)
        a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).reshape(-1).view(np.uint8)
        header[name] = {"dtype": code, "shape": [int(d) for d in np.shape(tensors[name])],
                        "data_offsets": [offset, offset + a.size]}
        chunks.append(a)
        offset += a.size
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the reference writer does
    return [struct.pack("<Q", len(text)), text, *chunks]


def write(path: str | os.PathLike[str], tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` (name -> NumPy array) and ``metadata`` to ``path`` atomically."""
    atomic_write(path, encode(tensors, metadata))


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


def _check_path(path: Any) -> str:
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
    path = _check_path(path)
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


# -- reading ------------------------------------------------------------------------------

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup is not None:
        raise ValueError(f"the key {dup!r} appears twice")
    return dict(pairs)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _entry(path: Any, name: str, e: Any) -> tuple[str, tuple[int, ...], int, int]:
    """Return (dtype, shape, begin, end) of one header entry, or raise naming what is wrong."""
    where = f"has a malformed header: tensor {name!r}"
    if not isinstance(e, dict) or set(e) != _ENTRY_KEYS:
        raise _fail(path, f"{where} must be an object with keys {sorted(_ENTRY_KEYS)}, got {e!r}.")
    dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
    if dtype not in DTYPES:
        raise _fail(path, f"{where} has unknown dtype {dtype!r}; known: {sorted(DTYPES)}.")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(path, f"{where} has shape {shape!r}; a shape is a list of ints >= 0.")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise _fail(path, f"{where} has data_offsets {offsets!r}; expected [begin, end] with 0 <= begin <= end.")
    size = 1
    for d in shape:
        size *= d
    nbytes = size * np.dtype(DTYPES[dtype]).itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise _fail(path, f"{where} of dtype {dtype} and shape {tuple(shape)} needs {nbytes} bytes, but its "
                          f"data_offsets {offsets} span {offsets[1] - offsets[0]}.")
    return dtype, tuple(shape), offsets[0], offsets[1]


def _header(path: Any, f: Any, file_size: int) -> tuple[int, dict[str, Any]]:
    head = f.read(8)
    if len(head) < 8:
        raise _fail(path, f"is too short to be a safetensors file ({file_size} bytes; the header length "
                          f"alone takes 8){_what_it_is(head)}.")
    (n,) = struct.unpack("<Q", head)
    if n > min(MAX_HEADER, file_size - 8):
        raise _fail(path, f"is not a safetensors file or is truncated: it says its header has {n} bytes, "
                          f"but the file holds {file_size - 8} after the length{_what_it_is(head)}.")
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError; nesting too deep recurses
        raise _fail(path, f"has a header that is not valid JSON ({exc}){_what_it_is(head)}.") from None
    if not isinstance(header, dict):
        raise _fail(path, f"has a header that is a JSON {type(header).__name__}, not an object.")
    return n, header


def read(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Return ``(tensors, metadata)`` from the safetensors file at ``path``.

    ``tensors`` maps names to native-endian NumPy arrays; ``metadata`` maps strings to
    strings ({} when absent). Raises SaveFileError, naming the problem, for a missing,
    truncated or malformed file; nothing is returned unless everything checks out.
    """
    path = _check_path(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            n, header = _header(path, f, size)
            data_size = size - 8 - n
            meta = header.pop("__metadata__", {})
            if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
                raise _fail(path, "has a malformed header: __metadata__ must map strings to strings.")
            entries = sorted(((_entry(path, k, v), k) for k, v in header.items()), key=lambda t: (t[0][2], t[0][3]))
            pos = 0
            for (_, _, begin, end), name in entries:
                if begin != pos:
                    raise _fail(path, f"has a malformed header: tensor {name!r} starts at byte {begin} of the data, "
                                      f"expected {pos} (tensors must follow each other without gaps or overlaps).")
                pos = end
            if pos != data_size:
                what = "is truncated" if pos > data_size else "has trailing bytes"
                raise _fail(path, f"{what}: its header describes {pos} bytes of tensor data, the file holds {data_size}.")
            data = bytearray(data_size)
            if f.readinto(data) != data_size:
                raise _fail(path, "changed while it was being read; try again.")
    except FileNotFoundError:
        raise SaveFileError(f"No such file: {path!r}.") from None
    except IsADirectoryError:
        raise SaveFileError(f"{path!r} is a folder, not a model file.") from None
    except OSError as exc:
        raise SaveFileError(f"Could not read {path!r}: {exc}") from None
    tensors = {}
    for (dtype, shape, begin, end), name in entries:
        a = np.frombuffer(data, dtype=DTYPES[dtype], count=(end - begin) // np.dtype(DTYPES[dtype]).itemsize,
                          offset=begin).reshape(shape)
        tensors[name] = a.astype(a.dtype.newbyteorder("="), copy=not a.flags.aligned)
    return tensors, meta
