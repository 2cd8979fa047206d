"""The ``anynet`` command.

``anynet train`` trains an MLP classifier on a data set and reports its test accuracy:
by default the 8 x 8 digits shipped with anynet (no network, no scikit-learn), a 64-64-10 network
with ReLU hidden units and a softmax output, Adam, 30 epochs, on the best available
backend (CuPy where a GPU is usable, else NumPy), with a progress bar and a PNG of the
training curves. ``anynet backends`` lists the adapters, whether each is usable here,
its version and its devices. ``python -m anynet`` is the same command.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anynet.cliargs import FlagError, check, device, fraction, int_at_least, layer_sizes, positive_float

__all__ = ["main", "train", "best_backend", "DATASETS"]


@dataclass(frozen=True)
class Task:
    """A classification data set for ``anynet train``: its loader, input scaling and default network."""

    load: Callable[[str | None], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # raw x, y, x_test, y_test
    divide_by: float  # inputs are flattened to float32 rows and divided by this
    layers: str
    about: str
    inputs: str  # what the raw inputs are, for --help and the saved metadata


def _digits(data: str | None) -> tuple[np.ndarray, ...]:
    from anynet.datasets import load_digits

    (x, y), (xt, yt) = load_digits()
    return x, y.astype(np.int64), xt, yt.astype(np.int64)


def _idx_task(loader_name: str) -> Callable[[str | None], tuple[np.ndarray, ...]]:
    def load(data: str | None) -> tuple[np.ndarray, ...]:
        import anynet.datasets as ds

        (x, y), (xt, yt) = getattr(ds, loader_name)(data)
        return x, y.astype(np.int64), xt, yt.astype(np.int64)
    return load


def _ex4(data: str | None) -> tuple[np.ndarray, ...]:
    from anynet.datasets import ex4_from_mnist

    d = ex4_from_mnist(data)
    # ex4 labels are 1..10 with 10 for the digit 0; the digit itself is label % 10
    return d["X"], d["y"] % 10, d["X_test"], d["y_test"] % 10


DATASETS: dict[str, Task] = {
    "digits": Task(_digits, 16, "64,64,10", "the 8x8 digits shipped with anynet, 1437 train / 360 test (no download)",
                   "load_digits() images, grey levels 0..16"),
    "mnist": Task(_idx_task("load_mnist"), 255, "784,128,10",
                  "MNIST, 60000 / 10000 28x28 digits (downloaded if missing)", "load_mnist() images, pixels 0..255"),
    "fashion-mnist": Task(_idx_task("load_fashion_mnist"), 255, "784,128,10",
                          "Fashion-MNIST, 60000 / 10000 28x28 clothes (downloaded if missing)",
                          "load_fashion_mnist() images, pixels 0..255"),
    "ex4": Task(_ex4, 1, "400,25,10", "ex4's task built from MNIST: 5000 train 20x20 digits, 10000 test",
                "ex4_from_mnist() rows, already scaled to [0, 1]"),
}


def preprocess(x: Any, metadata: dict[str, Any]) -> np.ndarray:
    """Return ``x`` (n, ...) prepared as ``anynet train`` prepared its inputs: float32 rows (n, features).

    ``metadata`` is what ``anynet train --save`` stored with the model
    (``anynet.load(path).metadata`` or ``anynet.saving.read_metadata(path)``).
    """
    prep = metadata["anynet_train"]["preprocessing"]
    x = np.asarray(x)
    sample = tuple(prep.get("reshape", [-1, -1])[1:])
    return x.reshape(len(x), *sample).astype(prep["dtype"]) / np.asarray(prep["divide_by"], dtype=prep["dtype"])


def _train_metadata(args: argparse.Namespace, task: Task, sample: tuple[int, ...], n_classes: int) -> dict[str, Any]:
    shape = ", ".join(map(str, sample))
    return {"anynet_train": {
        "dataset": args.dataset, "classes": n_classes, "model": args.model,
        "preprocessing": {"inputs": task.inputs, "reshape": [-1, *sample], "dtype": "float32",
                          "divide_by": float(task.divide_by),
                          "python": f"x.reshape(len(x), {shape}).astype('float32') / {task.divide_by:g}"}}}


def best_backend() -> str:
    """Return ``'cupy'`` when CuPy is installed and a GPU is usable, else ``'numpy'``."""
    from anynet import backends

    return "cupy" if backends.get("cupy").is_available() else "numpy"


def _layers(spec: str, n_in: int, n_out: int, dataset: str) -> list[int]:
    sizes = layer_sizes(spec)
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise FlagError(f"anynet train: error: --layers {spec} does not fit {dataset}, which has {n_in} input features "
                        f"and {n_out} classes: use {n_in},...,{n_out} (for example {n_in},64,{n_out}).")
    return sizes


def _cnn_inputs(x: np.ndarray, xt: np.ndarray, dataset: str) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """Return the rows as (n, side, side, 1) images, and the network's description, for --model cnn."""
    side = int(round(x.shape[1] ** 0.5))
    if side * side != x.shape[1] or side < 22:
        raise SystemExit(f"anynet train: --model cnn needs square images of at least 22x22 (mnist, fashion-mnist); "
                         f"{dataset} has {x.shape[1]} features.")
    images = lambda a: a.reshape(len(a), side, side, 1)  # noqa: E731
    return images(x), images(xt), [f"{side}x{side}x1", "conv32", "pool", "conv64", "pool", "conv64", "64"]


def _cnn_body(L: Any, activation: str) -> list[Any]:
    """The Keras book's MNIST convnet, up to its output layer."""
    return [L.Conv2D(32, 3, activation=activation), L.MaxPooling2D(2), L.Conv2D(64, 3, activation=activation),
            L.MaxPooling2D(2), L.Conv2D(64, 3, activation=activation), L.Flatten(), L.Dense(64, activation=activation)]


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``anynet train``; return the test accuracy, loss, seconds, History and the paths written."""
    import anynet as an
    from anynet.saving import save

    check(args, DATASETS)  # every flag, before the data is loaded or anything trained
    if args.model == "cnn" and args.layers:
        raise FlagError("anynet train: error: --layers sets an MLP's sizes; --model cnn has the Keras book's fixed "
                        "layers.")
    if args.model == "cnn" and args.dataset not in ("mnist", "fashion-mnist"):
        raise FlagError(f"anynet train: error: --model cnn needs 28x28 images (--dataset mnist or fashion-mnist), "
                        f"got --dataset {args.dataset}.")
    task = DATASETS[args.dataset]
    x, y, xt, yt = task.load(args.data)
    x, xt = (a.reshape(len(a), -1).astype(np.float32) / np.float32(task.divide_by) for a in (x, xt))
    if args.limit is not None:
        x, y = x[:args.limit], y[:args.limit]
    n_classes = int(max(y.max(), yt.max())) + 1
    backend = args.backend or best_backend()
    L = an.layers
    if args.model == "cnn":
        x, xt, sizes = _cnn_inputs(x, xt, args.dataset)
        sizes.append(n_classes)
        body = [L.Input(x.shape[1:]), *_cnn_body(L, args.activation), L.Dense(n_classes, activation="softmax")]
    else:
        sizes = _layers(args.layers or task.layers, x.shape[1], n_classes, args.dataset)
        body = ([L.Input((sizes[0],))] + [L.Dense(h, activation=args.activation) for h in sizes[1:-1]]
                + [L.Dense(sizes[-1], activation="softmax")])
    model = an.Sequential(body, seed=args.seed, backend=backend, device=device(args.device))
    optimizer = an.optimizers.get(args.optimizer)
    if args.lr is not None:
        optimizer = type(optimizer)(args.lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.build()
    print(f"anynet train: {args.dataset} ({len(x)} training / {len(xt)} test samples, {int(np.prod(x.shape[1:]))} "
          f"features, {n_classes} classes; inputs divided by {task.divide_by:g})")
    print(f"network {'-'.join(map(str, sizes))} ({args.activation} hidden, softmax output), "
          f"{type(optimizer).__name__} lr {optimizer.lr(0):g}, {args.epochs} epoch{'s' * (args.epochs != 1)} of batch "
          f"{args.batch_size}, "
          f"on {model.placement}, seed {args.seed}")
    t0 = time.perf_counter()
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.val_fraction or 0.0, verbose=1)
    seconds = time.perf_counter() - t0
    result = model.evaluate(xt, yt, return_dict=True)
    correct = int(round(result["accuracy"] * len(yt)))
    print(f"test accuracy: {100 * result['accuracy']:.2f}% ({correct}/{len(yt)}), test loss {result['loss']:.4f}; "
          f"trained in {seconds:.1f} s")
    out = {"test_accuracy": result["accuracy"], "test_loss": result["loss"], "seconds": seconds,
           "history": history, "model": model}
    if args.save:
        # the preprocessing goes with the weights, so that a loaded model is fed the same way
        save(model, args.save, metadata=_train_metadata(args, task, tuple(x.shape[1:]), n_classes))
        out["saved"] = Path(args.save)
        print(f"model saved to {args.save} (with its preprocessing: inputs divided by {task.divide_by:g})")
    if not args.no_plot:
        out["plot"] = _plot(history, args.plot, f"{args.dataset}: {'-'.join(map(str, sizes))} network")
    return out


def _plot(history: Any, path: str, title: str) -> Path | None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("training curves not plotted: matplotlib is not installed (pip install 'anynet-nn[plot]')")
        return None
    from anynet.plot import training_curves

    saved = training_curves(history, path, title=title)
    print(f"training curves saved to {saved}")
    return saved


def backends_command(args: argparse.Namespace) -> int:
    """Print one line per backend adapter: usable or why not, version, devices."""
    from anynet import backends

    for status in backends.available():
        print(status)
    print(f"best available: {best_backend()}")
    return 0


_TRAIN_ABOUT = """Train an MLP classifier on a data set and report its test accuracy.

Inputs are flattened to float32 rows and scaled to [0, 1] before training: pixel values
are divided by 255 (mnist, fashion-mnist) or by 16 (digits, whose grey levels run 0..16);
ex4's rows are already in [0, 1]. --save stores this preprocessing with the model, so a
loaded model can be fed the same way: anynet.load(path).metadata, or
anynet.cli.preprocess(x, metadata). Data files live under the data root, $ANYNET_DATA
(--data for another folder); digits ships with anynet. Every flag is checked before any
work: a bad value or an output folder that does not exist stops the command at once."""


def parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``anynet`` command."""
    p = argparse.ArgumentParser(prog="anynet", description=__doc__.split("\n\n")[0].strip())
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,backends}")
    t = sub.add_parser("train", help="train an MLP classifier and report its test accuracy",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_TRAIN_ABOUT + "\n\nData sets:\n" + "\n".join(
                           f"  {k}: {v.about}\n      inputs: {v.inputs}, divided by {v.divide_by:g}"
                           for k, v in DATASETS.items()))
    t.add_argument("--dataset", default="digits", choices=sorted(DATASETS), help="data set (default digits)")
    t.add_argument("--model", default="mlp", choices=("mlp", "cnn"),
                   help="mlp (default) or cnn: the Keras book's convnet, for mnist and fashion-mnist")
    t.add_argument("--layers", help="sizes from input to output, e.g. 784,128,10 (default per data set: "
                   + ", ".join(f"{k} {v.layers}" for k, v in DATASETS.items()) + ")")
    t.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    t.add_argument("--optimizer", default="adam", help="sgd, rmsprop, adam or adamw (default adam)")
    t.add_argument("--lr", type=positive_float, help="learning rate > 0 (default: the optimizer's, 0.001 for adam)")
    t.add_argument("--epochs", type=int_at_least(1), default=30, help="epochs, >= 1 (default 30)")
    t.add_argument("--batch-size", type=int_at_least(1), default=32, help="mini-batch size, >= 1 (default 32)")
    t.add_argument("--val-fraction", type=fraction, default=0.1,
                   help="last fraction of the training data held out for validation curves, in [0, 1) "
                        "(default 0.1; 0: none)")
    t.add_argument("--limit", type=int_at_least(1), metavar="N", help="train on the first N >= 1 training samples only")
    t.add_argument("--backend", help="numpy, cupy, torch, array_api_strict (default: cupy if usable, else numpy)")
    t.add_argument("--device", help="device of the backend: cpu, 0, cuda:1, device1 ...")
    t.add_argument("--seed", type=int_at_least(0), default=0,
                   help="seed of the initial weights and shuffles (default 0)")
    t.add_argument("--data", help="folder holding the data set's files (default: the data root, $ANYNET_DATA)")
    t.add_argument("--save", metavar="PATH", help="save the trained model and its preprocessing here; the folder "
                   "must exist")
    t.add_argument("--plot", metavar="PATH", default="training.png",
                   help="PNG of the training curves (default training.png)")
    t.add_argument("--no-plot", action="store_true", help="do not plot the training curves")
    sub.add_parser("backends", help="list backends: usable here or why not, versions, devices")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``anynet`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    from anynet.errors import AnynetError

    args = parser().parse_args(argv)
    try:
        if args.command == "backends":
            return backends_command(args)
        train(args)
        return 0
    except (AnynetError, ImportError) as exc:
        hint = " (or train on another --dataset)" if isinstance(exc, ImportError) and args.command == "train" else ""
        print(f"anynet {args.command}: error: {exc}{hint}", file=sys.stderr)
        return 1
