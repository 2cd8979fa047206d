"""Classification reports on the host: the confusion matrix and per-class precision/recall/F1.

Both use scikit-learn where it is installed (``pip install 'anynet-nn[sklearn]'``) and a
small NumPy version otherwise. Labels may be given as class indices of shape (n,), as
one-hot rows / predicted probabilities of shape (n, k), of which the argmax is taken, or
as a binary classifier's probabilities of shape (n,) or (n, 1), thresholded at 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from anynet.errors import InputError

__all__ = ["confusion_matrix", "classification_report", "as_labels"]


def as_labels(y: Any) -> np.ndarray:
    """Return class labels of shape (n,) from labels, (n, k) scores (argmax) or binary probabilities.

    A column (n, 1) counts as (n,). Floats that are not all whole numbers in (n,) or
    (n, 1), such as a sigmoid output, are probabilities of class 1: thresholded at 0.5.
    """
    if not isinstance(y, np.ndarray):
        from anynet.backends import for_array

        adapter = for_array(y)
        y = adapter.to_numpy(y) if adapter is not None else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 2:
        return np.argmax(y, axis=1)
    if y.ndim != 1:
        raise InputError(f"expected labels of shape (n,) or scores of shape (n, k), got shape {y.shape}.")
    if y.dtype.kind == "f" and not np.all(y == np.round(y)):
        return (y > 0.5).astype(np.int64)
    return y


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = as_labels(y_true), as_labels(y_pred)
    if len(t) != len(p):
        raise InputError(f"y_true has {len(t)} samples but y_pred has {len(p)}.")
    return t, p


def _sklearn() -> Any:
    try:
        import sklearn.metrics
    except ImportError:
        return None
    return sklearn.metrics


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> np.ndarray:
    """Return the int64 (k, k) confusion matrix: row i, column j counts class i predicted as j.

    ``labels`` orders the classes (default: every label in either array, sorted).
    """
    t, p = _pair(y_true, y_pred)
    labels = list(np.union1d(t, p)) if labels is None else list(labels)
    sk = _sklearn()
    if sk is not None:
        return sk.confusion_matrix(t, p, labels=labels).astype(np.int64)
    index = {v: i for i, v in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for a, b in zip(t.tolist(), p.tolist()):
        if a in index and b in index:
            out[index[a], index[b]] += 1
    return out


def classification_report(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None,
                          target_names: Sequence[str] | None = None, digits: int = 3) -> str:
    """Return a text table of per-class precision, recall, F1 and support, with accuracy and averages.

    scikit-learn's ``classification_report`` (classes without predictions count as 0)
    where installed; the NumPy fallback prints the same columns.
    """
    t, p = _pair(y_true, y_pred)
    labels = list(np.union1d(t, p)) if labels is None else list(labels)
    names = [str(x) for x in (target_names if target_names is not None else labels)]
    if len(names) != len(labels):
        raise InputError(f"target_names has {len(names)} names for {len(labels)} labels.")
    sk = _sklearn()
    if sk is not None:
        return sk.classification_report(t, p, labels=labels, target_names=names, digits=digits, zero_division=0)
    cm = confusion_matrix(t, p, labels)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    prec = np.divide(tp, cm.sum(axis=0), out=np.zeros_like(tp), where=cm.sum(axis=0) > 0)
    rec = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * prec * rec, prec + rec, out=np.zeros_like(tp), where=(prec + rec) > 0)
    w = max(12, *(len(n) for n in names))
    row = lambda n, a, b, c, s: f"{n:>{w}} {a:>9.{digits}f} {b:>9.{digits}f} {c:>9.{digits}f} {s:>9}"  # noqa: E731
    lines = [f"{'':>{w}} {'precision':>9} {'recall':>9} {'f1-score':>9} {'support':>9}", ""]
    lines += [row(n, a, b, c, int(s)) for n, a, b, c, s in zip(names, prec, rec, f1, support)]
    total = int(support.sum())
    acc = float(tp.sum() / total) if total else 0.0
    lines += ["", f"{'accuracy':>{w}} {'':>9} {'':>9} {acc:>9.{digits}f} {total:>9}",
              row("macro avg", prec.mean(), rec.mean(), f1.mean(), total)]
    wts = support / total if total else np.zeros_like(tp)
    lines.append(row("weighted avg", prec @ wts, rec @ wts, f1 @ wts, total))
    return "\n".join(lines) + "\n"
