"""Test helper: rewrite a saved model file with edits, to make damaged or hostile files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from anynet import tensorfile


def rewrite(src: Path, dst: Path, doc: Callable[[dict], Any] | None = None,
            tensors: Callable[[dict], Any] | None = None, meta: Callable[[dict], Any] | None = None) -> Path:
    """Return ``dst``: ``src`` with its JSON document, tensors and metadata passed through the edits."""
    t, m = tensorfile.read(src)
    d = json.loads(m["model"])
    if doc:
        doc(d)
    m["model"] = json.dumps(d)
    if meta:
        meta(m)
    if tensors:
        tensors(t)
    tensorfile.write(dst, t, m)
    return dst
