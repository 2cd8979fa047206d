"""Safetensors files through the ``safetensors`` package: written atomically, read lazily.

The format (https://github.com/huggingface/safetensors) is 8 bytes holding the header
length ``N`` (unsigned, little-endian), ``N`` bytes of JSON header, then the tensors' raw
little-endian bytes back to back. The header maps each tensor name to ``{"dtype": "F32",
"shape": [...], "data_offsets": [begin, end]}`` and may hold ``"__metadata__"``, a map of
strings to strings.

:func:`read` checks the whole header before it reads a byte of tensor data: anynet's own
checks (strict JSON without duplicate keys, names, dtypes NumPy holds, shapes an array can
have, each tensor's size against its offsets, the data against the file size, and for an
anynet model every tensor's size against the model the file describes), then
``safetensors.safe_open``'s (offsets tile the data). Tensors are then read one at a time,
from the memory-mapped file, when they are asked for: a small file that declares a huge
tensor over a sparse file costs nothing. Nothing in a file can run code (no pickle).
:func:`write` has safetensors encode the file, writes it to a temporary file in the same
folder, flushes and fsyncs it, renames it over the target and fsyncs the folder: a crash
leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np

from anynet.atomicfile import atomic_write, check_path
from anynet.errors import InputTypeError, SaveFileError

__all__ = ["read", "write", "atomic_write", "Tensors", "DTYPES"]

#: safetensors dtype codes NumPy can hold, and their little-endian NumPy dtypes
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
_CODES = {np.dtype(v).newbyteorder("<"): k for k, v in DTYPES.items()}
MAX_HEADER = 100_000_000  # the reference implementation's limit
MAX_DIMS = 64  # NumPy's limit on the number of axes
_MAX_NBYTES = np.iinfo(np.intp).max  # no array's (nonzero) extent times itemsize may pass this
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


def _safetensors() -> Any:
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:  # a base dependency; only a broken install gets here
        raise ImportError("anynet's model files are safetensors files: pip install safetensors") from None
    return safetensors


# -- writing ------------------------------------------------------------------------------

def _code(a: np.ndarray, name: str) -> str:
    code = _CODES.get(a.dtype.newbyteorder("<"))
    if code is None:
        raise InputTypeError(f"Tensor {name!r} has dtype {a.dtype}, which safetensors cannot hold; "
                             f"use one of {sorted(DTYPES)}.")
    return code


def encode(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """Return the safetensors file holding ``tensors`` (name -> array) and ``metadata``, as bytes."""
    if metadata:
        bad = [(k, v) for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))]
        if bad:
            raise InputTypeError(f"safetensors metadata maps strings to strings, got {bad[0]!r}.")
    arrays = {}
    for name, a in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise InputTypeError(f"A tensor name is a non-empty string other than '__metadata__', got {name!r}.")
        a = np.asarray(a)
        _code(a, name)
        # safetensors copies from the array's pointer: it must be contiguous and little-endian.
        arrays[name] = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    return _safetensors().numpy.save(arrays, metadata=dict(metadata) if metadata else None)


def write(path: str | os.PathLike[str], tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` (name -> NumPy array) and ``metadata`` to ``path`` atomically."""
    path = check_path(path)
    atomic_write(path, [encode(tensors, metadata)])


# -- checking the header ------------------------------------------------------------------

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
    if not name:
        raise _fail(path, "has a malformed header: a tensor has the empty name.")
    if not isinstance(e, dict) or set(e) != _ENTRY_KEYS:
        raise _fail(path, f"{where} must be an object with keys {sorted(_ENTRY_KEYS)}, got {e!r}.")
    dtype, shape, offsets = e["dtype"], e["shape"], e["data_offsets"]
    if dtype not in DTYPES:
        raise _fail(path, f"{where} has unknown dtype {dtype!r}; known: {sorted(DTYPES)}.")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise _fail(path, f"{where} has shape {shape!r}; a shape is a list of ints >= 0.")
    itemsize = np.dtype(DTYPES[dtype]).itemsize
    # NumPy needs the product of the nonzero sides to fit its index type, even for an empty array.
    if len(shape) > MAX_DIMS or math.prod(d for d in shape if d) * itemsize > _MAX_NBYTES:
        raise _fail(path, f"{where} has shape {_short(shape)}, which no array can have (at most {MAX_DIMS} axes "
                          f"and {_MAX_NBYTES} bytes).")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]):
        raise _fail(path, f"{where} has data_offsets {offsets!r}; expected [begin, end] with 0 <= begin <= end.")
    nbytes = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise _fail(path, f"{where} of dtype {dtype} and shape {tuple(shape)} needs {nbytes} bytes, but its "
                          f"data_offsets {offsets} span {offsets[1] - offsets[0]}.")
    return dtype, tuple(shape), offsets[0], offsets[1]


def _short(shape: list[int]) -> str:
    text = repr(shape)
    return text if len(text) < 120 else text[:117] + "...]"


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


def _model_size(meta: Mapping[str, str]) -> int | None:
    """Return the parameter count of the anynet model ``meta`` describes, or None if it describes none.

    anynet.saving lists every weight's shape in the model document; it checks that list
    against the layers before it reads a tensor, so each model tensor must hold that many values.
    """
    if meta.get("format") != "anynet":
        return None
    try:
        weights = json.loads(meta.get("model", ""))["weights"]
        shapes = [w["shape"] for w in weights]
    except (ValueError, RecursionError, TypeError, KeyError):
        return None  # a malformed document: anynet.saving refuses it before reading any tensor
    if not all(isinstance(s, list) and all(_is_int(d) and d >= 0 for d in s) for s in shapes):
        return None
    return sum(math.prod(s) for s in shapes)


def _check_header(path: Any, f: Any, size: int) -> tuple[dict[str, str], dict[str, tuple[str, tuple[int, ...]]]]:
    n, header = _header(path, f, size)
    data_size = size - 8 - n
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise _fail(path, "has a malformed header: __metadata__ must map strings to strings.")
    entries = {k: _entry(path, k, v) for k, v in header.items()}
    end = 0
    for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != end:
            raise _fail(path, f"has a malformed header: tensor {name!r} starts at byte {begin} of the data, "
                              f"expected {end} (tensors must follow each other without gaps or overlaps).")
        end = stop
    if end != data_size:
        what = "is truncated" if end > data_size else "has trailing bytes"
        raise _fail(path, f"{what}: its header describes {end} bytes of tensor data, the file holds {data_size}.")
    params = _model_size(meta)
    if params is not None:
        for name, (_, shape, _, _) in entries.items():
            # Larger is what costs memory; anynet.saving names any other mismatch once it has the tensor.
            if (name == "params" or name.startswith("opt/")) and math.prod(shape) > params:
                raise _fail(path, f"declares tensor {name!r} with shape {_short(list(shape))}, more values than the "
                                  f"{params} parameters of the model it describes; nothing was read.")
    return meta, {k: (e[0], e[1]) for k, e in entries.items()}


# -- reading ------------------------------------------------------------------------------

class Tensors(MutableMapping[str, np.ndarray]):
    """The tensors of a checked file, each read from the memory-mapped file when first asked for.

    A mapping of names to native-endian, writable NumPy arrays. ``declared`` gives every
    tensor's dtype code and shape without reading it. The file stays open (mapped) until
    every tensor has been read, :meth:`close` is called, or the mapping is dropped.
    """

    def __init__(self, path: str, handle: Any, declared: dict[str, tuple[str, tuple[int, ...]]]) -> None:
        self.path = path
        self.declared = dict(declared)
        self._handle = handle
        self._values: dict[str, np.ndarray] = {}
        self._keys = list(declared)

    def _load(self, name: str) -> np.ndarray:
        if self._handle is None:
            raise SaveFileError(f"{self.path!r} was closed before its tensor {name!r} was read.")
        code, shape = self.declared[name]
        try:
            a = self._handle.get_tensor(name)
        except Exception as exc:  # safetensors raises its own error types for I/O trouble
            raise SaveFileError(f"Could not read tensor {name!r} from {self.path!r}: {exc}") from None
        a = np.asarray(a)
        if a.shape != shape or a.dtype.newbyteorder("<") != np.dtype(DTYPES[code]):
            raise SaveFileError(f"{self.path!r} changed while it was being read; try again.")
        return np.require(a.astype(a.dtype.newbyteorder("="), copy=False), requirements=["A", "W", "C"])

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._values:
            if name not in self.declared or name not in self._keys:
                raise KeyError(name)
            self._values[name] = self._load(name)
            if all(k in self._values for k in self.declared):
                self.close()
        return self._values[name]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        if name not in self._keys:
            self._keys.append(name)
        self._values[name] = value

    def __delitem__(self, name: str) -> None:
        if name not in self._keys:
            raise KeyError(name)
        self._keys.remove(name)
        self._values.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, name: object) -> bool:
        return name in self._keys

    def close(self) -> None:
        """Unmap the file; tensors already read stay."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(Exception):
                handle.__exit__(None, None, None)

    def __enter__(self) -> Tensors:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {self.declared[k][0]}{list(self.declared[k][1])}" if k in self.declared
                          and k not in self._values else f"{k!r}: {type(self._values[k]).__name__}"
                          for k in self._keys)
        return f"Tensors({self.path!r}, {{{shown}}})"


def read(path: str | os.PathLike[str]) -> tuple[Tensors, dict[str, str]]:
    """Return ``(tensors, metadata)`` of the safetensors file at ``path``, after checking its header.

    ``tensors`` is a :class:`Tensors` mapping of names to native-endian NumPy arrays, each
    read when first asked for; ``metadata`` maps strings to strings ({} when absent).
    Raises SaveFileError, naming the problem, for a missing, truncated or malformed file,
    before any tensor data is read.
    """
    path = check_path(path)
    st = _safetensors()
    try:
        with open(path, "rb") as f:
            meta, declared = _check_header(path, f, os.fstat(f.fileno()).st_size)
        try:
            handle = st.safe_open(path, framework="numpy")
        except Exception as exc:  # SafetensorError, or an OSError from the mapping
            raise _fail(path, f"is not a valid safetensors file: {exc}.") from None
        try:
            # the dtypes are compared as each tensor is read (get_dtype is missing from older safetensors)
            seen = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}
            same = seen == {k: shape for k, (_, shape) in declared.items()} and (handle.metadata() or {}) == meta
        except Exception:  # noqa: BLE001 - any trouble here means the file is not what we checked
            same = False
        if not same:
            handle.__exit__(None, None, None)
            raise _fail(path, "changed while it was being read; try again.")
    except FileNotFoundError:
        raise SaveFileError(f"No such file: {path!r}.") from None
    except IsADirectoryError:
        raise SaveFileError(f"{path!r} is a folder, not a model file.") from None
    except OSError as exc:
        raise SaveFileError(f"Could not read {path!r}: {exc}") from None
    return Tensors(path, handle, declared), meta
