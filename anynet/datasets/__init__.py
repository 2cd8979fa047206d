"""Data sets: readers for files on disk and Keras-style loaders.

``load_mnist()`` and ``load_fashion_mnist()`` return ``((x_train, y_train), (x_test, y_test))``
as uint8 NumPy arrays, read from ``$ANYNET_DATA/mnist`` (``fashion-mnist``) or a folder you
pass. ``read_idx(path)`` reads one IDX file, plain or gzip-compressed. Nothing is downloaded.
"""

from __future__ import annotations

from anynet.datasets.idx import data_dir, load_fashion_mnist, load_mnist, read_idx

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "data_dir"]
