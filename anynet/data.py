"""Inputs and targets as a model takes them: arrays, lists in order, or dicts by name.

:func:`prepare` turns what a user passes to fit / evaluate / predict into a :class:`Data`:
one array per model input and one per output, checked, cast to the model's dtype and
placed on its device, all with one sample count. Every refusal names the bad value and
what was expected.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from anynet.errors import InputError, InputTypeError
from anynet.graph import symbolic
from anynet.validation import as_data_array, check_finite
from anynet.weighting import sample_weights

__all__ = ["Data", "split", "prepare", "sample_shape", "Labels", "image_hint"]


@dataclass(frozen=True)
class Data:
    """Inputs ``X`` (a tuple, one array per model input), targets ``y`` (one per output, or
    None), ``n`` samples, and sample weights ``w`` (one array or None per output, or None)."""

    X: tuple[Any, ...]
    y: tuple[Any, ...] | None
    n: int
    w: tuple[Any, ...] | None = None

    def rows(self, a: int, b: int) -> Data:
        """Return samples a..b-1 of every array."""
        return Data(tuple(x[a:b, ...] for x in self.X),
                    None if self.y is None else tuple(t[a:b, ...] for t in self.y), b - a,
                    None if self.w is None else tuple(None if v is None else v[a:b, ...] for v in self.w))

    def take(self, idx: Any, xp: Any, kernel: Any = None, scratch: Any = None) -> Data:
        """Return the samples at the device index vector ``idx``.

        ``kernel`` is a backend's ``take_rows(A, idx, scratch, name)``, which may gather into
        buffers it keeps in ``scratch`` (the training loop's, reused batch after batch).
        """
        def rows(A: Any, name: str) -> Any:
            return xp.take(A, idx, axis=0) if kernel is None else kernel(A, idx, scratch, name)

        return Data(tuple(rows(x, f"X{i}") for i, x in enumerate(self.X)),
                    None if self.y is None else tuple(rows(t, f"y{i}") for i, t in enumerate(self.y)),
                    int(idx.shape[0]),
                    None if self.w is None else tuple(None if v is None else rows(v, f"w{i}")
                                                      for i, v in enumerate(self.w)))


def sample_shape(shape: Any, what: str = "input_shape") -> tuple[int, ...]:
    """Return a sample shape from ``784``, ``(784,)`` or Keras' batch-first ``(None, 784)``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        dims = list(shape)
    except TypeError:
        raise InputTypeError(f"{what} must be an int or a tuple such as (784,) or (None, 784), got {shape!r}.") from None
    if len(dims) > 1 and dims[0] is None:
        dims = dims[1:]
    if not dims or not all(isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims):
        raise InputError(f"{what} must be positive ints such as (784,) or Keras' (None, 784), got {shape!r}.")
    if any(int(d) < 1 for d in dims):
        raise InputError(f"Each sample needs at least one value on every axis; got samples of shape {tuple(dims)}.")
    return tuple(int(d) for d in dims)


def _refuse_symbolic(value: Any, what: str) -> None:
    if symbolic(value) is not None:
        raise InputTypeError(f"{what} is a symbolic tensor ({symbolic(value)!r}), which holds no data; pass arrays. "
                             f"Symbolic tensors only build models: an.Model(inputs, outputs).")


def split(value: Any, names: list[str], what: str, kind: str | None = None) -> list[Any]:
    """Return one entry per name from a single array, a list/tuple in order, or a dict by name;
    ``kind`` ("inputs" or "outputs") is what the names are, from ``what`` by default."""
    kind = kind or what_names(what)
    if isinstance(value, dict):
        missing = [n for n in names if n not in value]
        unknown = [k for k in value if k not in names]
        if missing or unknown:
            raise InputError(f"{what} is a dict with keys {list(value)}, but the model's {kind} are "
                             f"{names}" + (f"; missing {missing}" if missing else "")
                             + (f"; unknown {unknown}" if unknown else "") + ".")
        items = [value[n] for n in names]
    elif len(names) > 1:
        if not isinstance(value, (list, tuple)) or len(value) != len(names):
            got = f"a {type(value).__name__} of {len(value)}" if isinstance(value, (list, tuple)) else repr(
                type(value).__name__)
            raise InputError(f"The model has {len(names)} {kind} {names}; pass {what} as a list of "
                             f"{len(names)} arrays in that order or a dict by name, got {got}.")
        items = list(value)
    elif isinstance(value, (list, tuple)) and len(value) == 1 and hasattr(value[0], "shape"):
        items = [value[0]]  # [X] for a model of one input, as Keras takes it
    else:
        items = [value]
    for n, v in zip(names, items):
        _refuse_symbolic(v, what if len(names) == 1 else f"{what}[{n!r}]")
    return items


def what_names(what: str) -> str:
    return "outputs" if what.startswith("y") else "inputs"


class Labels:
    """What messages call the arrays of one call: ``X``, ``y``, ``sample_weight``, or inside
    ``validation_data``: ``validation_data[0]``, ``[1]``, ``[2]``."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        self.X = f"{where}[0]" if where else "X"
        self.y = f"{where}[1]" if where else "y"
        self.sample_weight = f"{where}[2]" if where else "sample_weight"
        self.class_weight = "class_weight"


def prepare(model: Any, X: Any, y: Any = None, *, sample_weight: Any = None, class_weight: Any = None,
            where: str = "") -> Data:
    """Return X (and y, and the sample weights) as a :class:`Data` on ``model``'s device; see the
    module docstring and :mod:`anynet.weighting`. ``where`` names the argument the arrays came
    in, for messages (``"validation_data"``)."""
    names = Labels(where)
    if X is None:
        raise InputError(f"{names.X} is None; pass the inputs, an array of shape (samples, features...).")
    _refuse_symbolic(X, names.X)
    _refuse_symbolic(y, names.y)
    in_names = model.input_names_or_default()
    xs = split(X, in_names, names.X, "inputs")
    label = (lambda n: names.X) if len(in_names) == 1 else (lambda n: f"{names.X}[{n!r}]")
    for name, x in zip(in_names, xs):
        if x is None:
            raise InputError(f"{label(name)} is None; pass an array of shape (samples, features...).")
    model._ensure_built(xs, y)
    p, xp = model.placement, model.placement.xp
    dtype = getattr(xp, model.dtype)
    arrays = []
    for name, x, shape in zip(in_names, xs, model._input_shapes()):
        arr, _ = as_data_array(x, p, name=label(name))
        if tuple(arr.shape[1:]) != tuple(shape):
            raise InputError(model._shape_message(name, tuple(arr.shape), tuple(shape), label(name)))
        arrays.append(_cast(arr, dtype, xp, p, label(name), model.dtype))
    n = int(arrays[0].shape[0])
    counts = {label(nm): int(a.shape[0]) for nm, a in zip(in_names, arrays)}
    if len(set(counts.values())) > 1:
        raise InputError(f"The inputs hold different numbers of samples: {counts}; every input needs one row per "
                         f"sample.")
    if y is None:
        if sample_weight is not None or class_weight is not None:
            raise InputError(f"{names.sample_weight if sample_weight is not None else names.class_weight} weights "
                             f"the targets' losses, but no targets {names.y} were given.")
        return Data(tuple(arrays), None, n)
    model._require_compiled("passing targets")
    heads = model.heads
    out_names = [h.name for h in heads]
    ys = split(y, out_names, names.y, "outputs")
    targets = []
    for head, t in zip(heads, ys):
        tw = names.y if len(heads) == 1 else f"{names.y}[{head.name!r}]"
        if t is None:
            raise InputError(f"{tw} is None: output {head.name!r} has a loss, so it needs targets.")
        arr, kind = as_data_array(t, p, name=tw)
        if arr.shape[0] != n:
            xw = names.X if len(arrays) == 1 else "the inputs"
            raise InputError(f"{xw} and {tw} hold different numbers of samples: {xw} has {n} (shape "
                             f"{tuple(arrays[0].shape)}), {tw} has {arr.shape[0]} (shape {tuple(arr.shape)}).")
        targets.append(head.check_targets(arr, kind, xp, dtype, tw))
    w = sample_weights(model, targets, sample_weight, class_weight, n, (names.sample_weight, names.class_weight))
    return Data(tuple(arrays), tuple(targets), n, w)


def _cast(arr: Any, dtype: Any, xp: Any, p: Any, name: str, dtype_name: str) -> Any:
    """Return ``arr`` in the model's dtype, refusing NaN, infinity and values beyond the dtype's range."""
    if arr.dtype == dtype:
        check_finite(arr, xp, name)
        return arr
    with p.backend.quiet():  # a float64 value beyond float32's range becomes inf: said below, in words
        out = xp.astype(arr, dtype)
    try:
        check_finite(out, xp, name)
    except InputError:
        check_finite(arr, xp, name)  # NaN or inf in the data itself: that message
        big = float(xp.max(xp.abs(arr)))
        raise InputError(f"{name} holds values up to {big:.3g}, beyond the range of the model's {dtype_name} "
                         f"(about {float(xp.finfo(dtype).max):.3g}); scale the data or use dtype='float64'.") from None
    return out


def image_hint(want: tuple[int, ...], got: tuple[int, ...]) -> str:
    """Return how to turn X into the (height, width, channels) samples an image model expects, or ''."""
    if len(want) != 3:
        return ""
    h, w, c = want
    if got[1:] == (c, h, w):
        return " anynet is channels last; transpose channels-first data with np.transpose(X, (0, 2, 3, 1))."
    if got[1:] == (h, w) and c == 1:
        return " Add the channels axis: X[..., None]."
    if got[1:] == (h * w * c,):
        return f" Reshape the rows into images: X.reshape(-1, {h}, {w}, {c})."
    return ""
