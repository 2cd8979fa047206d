"""Figures saved as PNG files: digit grids, hidden units as images, training curves, confusion matrices.

Each function draws on a bare matplotlib ``Figure`` rendered by the Agg canvas, so it
never opens a window, needs no display and leaves pyplot's state alone; it saves the PNG
at ``path`` and returns that path. matplotlib is optional: ``pip install 'anynet-nn[plot]'``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from anynet.errors import InputError

__all__ = ["digits_grid", "hidden_units", "training_curves", "confusion_matrix", "conv_filters", "feature_maps",
           "layer_output"]

PathLike = Union[str, "os.PathLike[str]"]


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("anynet.plot needs matplotlib: pip install 'anynet-nn[plot]'") from None
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: PathLike) -> Path:
    out = Path(os.fspath(path))
    if out.suffix.lower() != ".png":
        raise InputError(f"anynet.plot saves PNG files; got path {str(out)!r} (use a name ending in .png).")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png")
    return out


def _images(X: Any, shape: tuple[int, int] | None, order: str) -> np.ndarray:
    """Return X as (n, h, w) images: 3-D as given, 2-D rows reshaped to ``shape`` (default square)."""
    X = np.asarray(X)
    if X.ndim == 3:
        return X
    if X.ndim != 2:
        raise InputError(f"expected images of shape (n, h, w) or rows of shape (n, h * w), got shape {X.shape}.")
    if shape is None:
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1]:
            raise InputError(f"rows of {X.shape[1]} pixels are not square images; pass shape=(h, w).")
        shape = (side, side)
    if shape[0] * shape[1] != X.shape[1]:
        raise InputError(f"shape={tuple(shape)} holds {shape[0] * shape[1]} pixels but the rows have {X.shape[1]}.")
    return X.reshape(len(X), shape[0], shape[1], order=order)


def _grid(fig: Any, images: np.ndarray, titles: Sequence[str] | None, cmap: str) -> None:
    n = len(images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    for i, img in enumerate(images):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img, cmap=cmap)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=7, pad=1)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92, wspace=0.1,
                        hspace=0.4 if titles is not None else 0.1)


def digits_grid(images: Any, path: PathLike, *, labels: Any = None, n: int = 100, seed: int = 0,
                shape: tuple[int, int] | None = None, order: str = "C", title: str | None = None) -> Path:
    """Return ``path``, where a grid of ``n`` (100) randomly chosen images was saved as PNG.

    ``images`` is (m, h, w), or (m, h * w) rows reshaped to ``shape`` (default square) in
    ``order`` ("F" for ex4's column-major rows). With ``labels`` each image is titled.
    """
    imgs = _images(images, shape, order)
    if n < 1:
        raise InputError(f"digits_grid needs n >= 1 images, got n={n!r}.")
    pick = np.sort(np.random.default_rng(seed).choice(len(imgs), min(n, len(imgs)), replace=False))
    titles = [str(v) for v in np.asarray(labels)[pick]] if labels is not None else None
    fig = _figure(8, 8.4)
    _grid(fig, imgs[pick], titles, "gray_r")
    fig.suptitle(title or f"{len(pick)} of {len(imgs)} images")
    return _save(fig, path)


def hidden_units(weights: Any, path: PathLike, *, shape: tuple[int, int] | None = None, order: str = "C",
                 title: str | None = None) -> Path:
    """Return ``path``, where each hidden unit's incoming weights were saved as one image of a PNG grid.

    ``weights`` is the first Dense layer's kernel of shape (n_in, n_hidden) (e.g.
    ``model.get_weights()[0]``), or a model, whose first kernel is taken. Each column is
    drawn as an image of ``shape`` (default square), unrolled in ``order``: ex4's 25
    units are ``shape=(20, 20), order="F"``.
    """
    W = weights.get_weights()[0] if hasattr(weights, "get_weights") else np.asarray(weights)
    if W.ndim != 2:
        raise InputError(f"hidden_units expects a kernel of shape (n_in, n_hidden), got shape {W.shape}.")
    imgs = _images(W.T, shape, order)
    fig = _figure(6, 6.3)
    _grid(fig, imgs, None, "gray")
    fig.suptitle(title or f"{len(imgs)} hidden units")
    return _save(fig, path)


def training_curves(history: Any, path: PathLike, *, title: str | None = None) -> Path:
    """Return ``path``, where the loss and each metric per epoch (train and ``val_``) were saved as PNG.

    ``history`` is what ``fit`` returns (an :class:`anynet.History`), or a dict of lists
    such as ``history.history``. One panel per quantity, validation dashed.
    """
    logs = history.history if hasattr(history, "history") else history
    from matplotlib.ticker import MaxNLocator
    if not isinstance(logs, Mapping) or not logs:
        raise InputError(f"training_curves expects a History or a dict of per-epoch lists, got {history!r}.")
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in names]
    fig = _figure(4.5 * len(names), 3.6)
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        for key, style, label in ((name, "-o", "training"), (f"val_{name}", "--s", "validation")):
            if key in logs:
                ys = [float(v) for v in logs[key]]
                ax.plot(range(1, len(ys) + 1), ys, style, markersize=3, label=label)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def confusion_matrix(y_true: Any, y_pred: Any, path: PathLike, *, labels: Sequence[Any] | None = None,
                     target_names: Sequence[str] | None = None, title: str | None = None) -> Path:
    """Return ``path``, where the confusion matrix (rows true, columns predicted, counts) was saved as PNG."""
    from anynet.reports import as_labels
    from anynet.reports import confusion_matrix as cm_of

    t, p = as_labels(y_true), as_labels(y_pred)
    labels = list(np.union1d(t, p)) if labels is None else list(labels)
    cm = cm_of(t, p, labels)
    names = [str(x) for x in (target_names if target_names is not None else labels)]
    k = len(labels)
    size = min(12.0, 2.5 + 0.45 * k)
    fig = _figure(size, size)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), names, rotation=90 if k > 12 else 0)
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        high = cm.max() / 2 if cm.size else 0
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > high else "black")
    acc = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(title or f"confusion matrix (accuracy {acc:.2%})")
    fig.tight_layout()
    return _save(fig, path)


def conv_filters(weights: Any, path: PathLike, *, channel: int = 0, title: str | None = None) -> Path:
    """Return ``path``, where each filter of a Conv2D kernel was saved as one image of a PNG grid.

    ``weights`` is a kernel of shape (kh, kw, in_channels, filters) (Keras' layout, e.g.
    ``model.get_weights()[0]``), or a model, whose first kernel is taken. Each filter is
    drawn for input channel ``channel``, on one colour scale shared by all filters (red
    positive, blue negative), so their sizes compare.
    """
    W = weights.get_weights()[0] if hasattr(weights, "get_weights") else np.asarray(weights)
    if W.ndim != 4:
        raise InputError(f"conv_filters expects a Conv2D kernel of shape (kh, kw, in_channels, filters), "
                         f"got shape {W.shape}.")
    if not 0 <= channel < W.shape[2]:
        raise InputError(f"channel={channel!r} is not an input channel of a kernel with {W.shape[2]}.")
    imgs = np.moveaxis(W[:, :, channel, :], -1, 0)
    limit = float(np.abs(imgs).max()) or 1.0
    fig = _figure(6, 6.3)
    n = len(imgs)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    for i, img in enumerate(imgs):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img, cmap="bwr", vmin=-limit, vmax=limit)
        ax.set_axis_off()
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92, wspace=0.1, hspace=0.1)
    fig.suptitle(title or f"{n} filters of {W.shape[0]}x{W.shape[1]} (input channel {channel})")
    return _save(fig, path)


def layer_output(model: Any, X: Any, layer: int) -> np.ndarray:
    """Return, as host NumPy, the output of ``model.layers[layer]`` for the samples X (inference mode).

    X has the model's sample shape with a batch axis, e.g. (1, 28, 28, 1) for one digit.
    """
    from anynet.model import Model

    n_layers = len(model.layers)
    if not -n_layers <= layer < n_layers:
        raise InputError(f"layer={layer!r} is not one of the model's {n_layers} layers.")
    if not model.built:
        model.build()
    # Keras' way: a model from the same inputs to that layer's output shares the trained weights.
    probe = Model(model.inputs, model.layers[layer % n_layers].output)
    Y = probe.predict(X, verbose=0)
    backend = model.placement.backend
    return Y if isinstance(Y, np.ndarray) else backend.to_numpy(Y)


def feature_maps(maps: Any, path: PathLike, *, image: Any = None, title: str | None = None) -> Path:
    """Return ``path``, where each channel of one sample's feature maps was saved as one image of a grid.

    ``maps`` is (h, w, channels), or (1, h, w, channels) as :func:`layer_output` returns for
    one sample. ``image`` (h, w) or (h, w, 1), if given, is drawn first for reference.
    """
    M = np.asarray(maps)
    if M.ndim == 4 and M.shape[0] == 1:
        M = M[0]
    if M.ndim != 3:
        raise InputError(f"feature_maps expects one sample's maps of shape (h, w, channels), got shape {M.shape}.")
    imgs = list(np.moveaxis(M, -1, 0))
    titles = [str(i) for i in range(len(imgs))]
    if image is not None:
        img = np.asarray(image)
        imgs, titles = [img.reshape(img.shape[0], img.shape[1])] + imgs, ["input"] + titles
    fig = _figure(8, 8.4)
    n = len(imgs)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    for i, img in enumerate(imgs):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(img, cmap="gray_r" if titles[i] == "input" else "viridis")
        ax.set_axis_off()
        ax.set_title(titles[i], fontsize=7, pad=1)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=0.92, wspace=0.1, hspace=0.4)
    fig.suptitle(title or f"{M.shape[-1]} feature maps of {M.shape[0]}x{M.shape[1]}")
    return _save(fig, path)
