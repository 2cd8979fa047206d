"""Your own notes saved with a model: a small JSON dict in the model file's header.

``anynet.saving.save(model, path, metadata={...})`` stores it; :func:`read_metadata` (and
``anynet.load(path).metadata``) give it back. ``anynet train --save`` uses it to record
how it prepared the inputs, so that a loaded model is fed the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from anynet import tensorfile
from anynet.errors import InputTypeError, SaveFileError

__all__ = ["read_metadata", "encode", "KEY", "MAX_BYTES"]

#: the key of the header's ``__metadata__`` that holds it, as JSON text
KEY = "user"
#: it is meant for a few settings, not for data
MAX_BYTES = 1_000_000


def encode(metadata: Mapping[str, Any]) -> str:
    """Return ``metadata`` as JSON text, or raise InputTypeError when it is not a small JSON dict."""
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise InputTypeError(f"metadata must be a dict with str keys, got {metadata!r}.")
    try:
        text = json.dumps(dict(metadata), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"metadata must hold JSON values (str, numbers, bool, None, lists, dicts): {exc}") from None
    if len(text) > MAX_BYTES:
        raise InputTypeError(f"metadata takes {len(text)} bytes as JSON; at most {MAX_BYTES} are saved with a model.")
    return text


def decode(path: Any, meta: Mapping[str, str]) -> dict[str, Any]:
    """Return the metadata dict held in a model file's header ``meta`` ({} when none)."""
    if KEY not in meta:
        return {}
    try:
        value = json.loads(meta[KEY])
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise SaveFileError(f"{os.fspath(path)!r} has a '{KEY}' metadata entry that is not a JSON object.")
    return value


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the metadata dict saved with the anynet model at ``path`` ({} when none); reads no weights."""
    _, meta = tensorfile.read(path)
    if meta.get("format") != "anynet":
        raise SaveFileError(f"{os.fspath(path)!r} is not an anynet model file (its metadata has keys {sorted(meta)}).")
    return decode(path, meta)
