"""Checking every flag of ``anynet train`` before any work: numbers, names and output paths.

Numbers are refused by argparse itself (``type=``), with the usage line; names (optimizer,
activation, backend and device), the ``--layers`` format, ``--data`` and the output paths
are checked by :func:`check` before a data set is loaded or a model trained, so a typo or a
folder that does not exist never costs a training run.
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["int_at_least", "positive_float", "fraction", "check", "layer_sizes", "FlagError"]


class FlagError(SystemExit):
    """A flag's value that cannot work: Python prints the message and exits with status 1."""


def int_at_least(minimum: int) -> Callable[[str], int]:
    """Return an argparse type: an int >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    parse.__name__ = f"int >= {minimum}"
    return parse


def positive_float(text: str) -> float:
    """Return ``text`` as a finite float > 0 (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """Return ``text`` as a float in [0, 1) (an argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction from 0 (none) up to but not including 1, got {text!r}")
    return value


def layer_sizes(spec: str) -> list[int]:
    """Return the sizes in ``--layers`` (comma-separated ints >= 1, at least two), or raise FlagError."""
    try:
        sizes = [int(s) for s in spec.split(",")]
    except ValueError:
        raise FlagError(f"anynet train: error: --layers must be comma-separated integers like 64,64,10, "
                        f"got {spec!r}.") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise FlagError(f"anynet train: error: --layers needs the input size, any hidden sizes and the output size, "
                        f"each >= 1, like 64,64,10; got {spec!r}.")
    return sizes


def _writable_file(flag: str, path: str, *, create_folders: bool, suffix: str | None = None) -> None:
    """Raise FlagError unless a file can be written at ``path`` (its folder exists and takes files)."""
    target = Path(path).expanduser()
    if suffix is not None and target.suffix.lower() != suffix:
        raise FlagError(f"anynet train: error: {flag} {path!r} must name a {suffix} file, like training{suffix}.")
    if target.is_dir():
        raise FlagError(f"anynet train: error: {flag} {path!r} is a folder; give a file name, like "
                        f"{os.path.join(path, 'model.anynet' if suffix is None else 'training' + suffix)!r}.")
    folder = target.absolute().parent
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise FlagError(f"anynet train: error: {flag} {path!r}: {str(existing)!r} is a file, not a folder. "
                        f"Nothing was trained.")
    if existing != folder and not create_folders:
        raise FlagError(f"anynet train: error: {flag} {path!r}: the folder {str(folder)!r} does not exist; create "
                        f"it first or choose another path. Nothing was trained.")
    folder = existing  # the plot creates the folders below it
    if target.exists() and not os.access(target, os.W_OK):
        raise FlagError(f"anynet train: error: {flag} {path!r} exists and is not writable. Nothing was trained.")
    try:  # what the writer will do: create a file in that folder (read-only mounts, ACLs, quotas)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".anynet-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise FlagError(f"anynet train: error: {flag} {path!r}: cannot write in {str(folder)!r} "
                        f"({exc.strerror or exc}). Nothing was trained.") from None


def check(args: argparse.Namespace, datasets: dict[str, Any]) -> None:
    """Raise FlagError (or an anynet error naming the choices) for any flag of ``args`` that cannot work."""
    import anynet as an
    from anynet.backend import resolve

    if args.layers is not None:
        layer_sizes(args.layers)
    an.optimizers.get(args.optimizer)  # UnknownNameError, suggesting the closest name
    an.activations.get(args.activation)
    if args.backend is not None or args.device is not None:
        resolve(backend=args.backend, device=device(args.device))  # BackendError / DeviceError
    if args.data is not None and not Path(args.data).expanduser().exists():
        raise FlagError(f"anynet train: error: --data {args.data!r} does not exist; give the folder that holds "
                        f"{args.dataset}'s files, or leave --data out to use the data root (ANYNET_DATA).")
    if args.save is not None:
        _writable_file("--save", args.save, create_folders=False)
    if not args.no_plot:
        _writable_file("--plot", args.plot, create_folders=True, suffix=".png")


def device(spec: str | None) -> Any:
    """Return ``--device`` as the backends take it: an int for a plain number, else the text."""
    return int(spec) if spec is not None and spec.isdigit() else spec
