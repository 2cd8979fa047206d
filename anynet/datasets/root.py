"""Where the data sets live: the data root (``$ANYNET_DATA`` or a default folder).

Its own module so that the loaders (:mod:`~anynet.datasets.idx`) and the downloader
(:mod:`~anynet.datasets.download`) both import it without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

__all__ = ["data_dir", "default_data_dir", "ENV_VAR", "DEFAULT_DATA_DIR"]

PathLike = Union[str, "os.PathLike[str]"]

#: The environment variable naming the data root (the folder that holds ``mnist/`` ...).
ENV_VAR = "ANYNET_DATA"
#: The data root used when ``ANYNET_DATA`` is not set and pooch is missing, or when it exists.
DEFAULT_DATA_DIR = Path("~/.anynet/data")


def data_dir(path: PathLike | None = None) -> Path:
    """Return the data root: ``path`` if given, else ``$ANYNET_DATA``, else the default root.

    The default root is ``~/.anynet/data`` when that folder exists (where earlier versions
    told you to put the files) or pooch is not installed, else pooch's platform cache
    folder (``~/.cache/anynet`` on Linux). The root holds one folder per data set
    (``mnist/``, ``fashion-mnist/``, ``ex4/``, ``keras/``); it need not exist yet.
    """
    if path is not None:
        return Path(os.fspath(path)).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else default_data_dir()


def default_data_dir() -> Path:
    """Return the data root used when ``ANYNET_DATA`` is not set (see :func:`data_dir`)."""
    legacy = DEFAULT_DATA_DIR.expanduser()
    if legacy.is_dir():
        return legacy
    try:
        import pooch
    except ImportError:
        return legacy
    return Path(pooch.os_cache("anynet"))
