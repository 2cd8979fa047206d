"""Argument and input-shape checks shared by the convolution and pooling layers (Keras' rules)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from anynet.errors import InputError, InputTypeError
from anynet.layers._windows import Pads, out_and_pads

PADDINGS = ("valid", "same")


def int_tuple(layer: str, arg: str, value: Any, rank: int) -> tuple[int, ...]:
    """Return ``value`` (an int or ``rank`` ints) as a tuple of ``rank`` positive ints, or raise."""
    items = [value] * rank if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        items = list(items)
        ok = len(items) == rank and all(isinstance(v, int) and not isinstance(v, bool) for v in items)
    except TypeError:
        ok = False
    if not ok:
        raise InputTypeError(f"{layer}: {arg} must be an int or a tuple of {rank} ints, got {arg}={value!r}.")
    if min(items) < 1:
        raise InputError(f"{layer}: {arg} must be positive, got {arg}={value!r}.")
    return tuple(items)


def padding_name(layer: str, value: Any, allowed: Sequence[str] = PADDINGS) -> str:
    """Return the padding name in lower case, or raise naming the ones there are."""
    name = value.lower() if isinstance(value, str) else value
    if name not in allowed:
        extra = " ('full' is not a Keras padding; pad the input yourself, e.g. with padding='same' on a larger input)" \
            if name == "full" else ""
        raise InputError(f"{layer}: padding must be one of {', '.join(repr(a) for a in allowed)}, "
                         f"got padding={value!r}{extra}.")
    return name


def data_format(layer: str, value: Any) -> None:
    """Accept only channels-last data, saying how to convert channels-first arrays."""
    if value in (None, "channels_last"):
        return
    if value == "channels_first":
        raise InputError(f"{layer}: anynet is channels last (samples are (height, width, channels)); "
                         f"data_format='channels_first' is not supported. Transpose the data instead: "
                         f"X = np.transpose(X, (0, 2, 3, 1)) turns (n, channels, height, width) into (n, height, width, channels).")
    raise InputError(f"{layer}: data_format must be 'channels_last' (or None), got {value!r}.")


def check_input(layer: str, shape: tuple[int, ...], rank: int) -> None:
    """Raise unless ``shape`` (one sample) is ``rank`` spatial axes plus channels, channels last."""
    want = "(height, width, channels)" if rank == 2 else "(steps, channels)"
    if len(shape) != rank + 1:
        hint = ""
        if rank == 2 and len(shape) == 2:
            hint = (f"; add a channels axis: X[..., None] gives samples of shape {(*shape, 1)}, "
                    f"or start the model with Reshape({(*shape, 1)})")
        elif rank == 2 and len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
            side = math.isqrt(shape[0])
            hint = f"; for square grey images use Reshape(({side}, {side}, 1)) or X.reshape(-1, {side}, {side}, 1)"
        elif rank == 1 and len(shape) == 1:
            hint = f"; add a channels axis: X[..., None] gives samples of shape {(*shape, 1)}"
        raise InputError(f"{layer} expects samples of shape {want} (channels last), got samples of shape {shape}{hint}.")
    if rank == 2 and shape[0] <= 4 < shape[1] == shape[2]:
        raise InputError(f"{layer}: samples of shape {shape} look channels first ({shape[0]} channels of "
                         f"{shape[1]}x{shape[2]} images); anynet is channels last, samples (height, width, channels). "
                         f"Transpose the data: X = np.transpose(X, (0, 2, 3, 1)) gives samples of shape "
                         f"{(shape[1], shape[2], shape[0])}.")


def output_and_pads(layer: str, shape: tuple[int, ...], kernel: Sequence[int], strides: Sequence[int],
                    dilation: Sequence[int], padding: str, what: str = "kernel") -> tuple[tuple[int, ...], Pads]:
    """Return the spatial output shape and the 2-D pads; raise when the window does not fit the input."""
    spatial = shape[:-1]
    outs, pads = [], []
    for n, k, s, d in zip(spatial, kernel, strides, dilation):
        o, before, after = out_and_pads(n, k, s, d, padding)
        outs.append(o)
        pads.append((before, after))
    if min(outs) < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        dil = f" (dilated to {span})" if tuple(span) != tuple(kernel) else ""
        raise InputError(f"{layer}: the {what} {tuple(kernel)}{dil} is larger than the input, samples of shape "
                         f"{shape} with padding={padding!r}; use a smaller {what}, padding='same', or larger inputs.")
    if len(pads) == 1:
        pads = [(0, 0), *pads]
    return tuple(outs), (pads[0], pads[1])
