"""Data sets: Keras-style loaders, verified downloads, and preparing data for training.

Every loader returns host NumPy arrays, ``((x_train, y_train), (x_test, y_test))`` as
Keras' ``load_data()`` does:

========================  ===================================  ===========================
loader                    x_train / x_test                     y_train / y_test
========================  ===================================  ===========================
``load_digits()``         uint8 (1437 / 360, 8, 8), 0..16      uint8 (n,), 0..9
``load_mnist()``          uint8 (60000 / 10000, 28, 28)        uint8 (n,), 0..9
``load_fashion_mnist()``  uint8 (60000 / 10000, 28, 28)        uint8 (n,), 0..9
``load_imdb()``           object (25000,) of int lists         int64 (n,), 0 / 1
``load_reuters()``        object (8982 / 2246,) of int lists   int64 (n,), 0..45
``load_boston_housing()`` float64 (404 / 102, 13)              float64 (n,), k$
========================  ===================================  ===========================

``load_ex4()`` returns a dict of the course's arrays (see :mod:`anynet.datasets.ex4`).

Files live under the data root (:func:`data_dir`: ``$ANYNET_DATA``, else the platform
cache folder); each is checked against its SHA-256 before it is read, and downloaded
(through pooch, ``pip install 'anynet-nn[data]'``) when missing or damaged; see
:mod:`anynet.datasets.download`. A ``path`` you pass is read as it is, without network.

Helpers (:mod:`anynet.datasets.preprocessing`): ``to_backend``, ``one_hot``,
``multi_hot``, ``Normalizer`` / ``normalize``, ``train_val_split``, ``kfold``.
"""

from __future__ import annotations

from anynet.datasets.digits import load_digits
from anynet.datasets.download import REGISTRY, DownloadError, fetch
from anynet.datasets.ex4 import ex4_from_mnist, load_ex4
from anynet.datasets.idx import data_dir, load_fashion_mnist, load_mnist, read_idx
from anynet.datasets.keras import (decode_sequence, load_boston_housing, load_imdb, load_imdb_word_index,
                                   load_reuters)
from anynet.datasets.preprocessing import (Normalizer, kfold, multi_hot, normalize, one_hot, to_backend,
                                           train_val_split)

__all__ = [
    "load_digits", "load_mnist", "load_fashion_mnist", "load_ex4", "ex4_from_mnist", "load_imdb", "load_reuters",
    "load_boston_housing", "load_imdb_word_index", "decode_sequence", "read_idx", "data_dir", "fetch",
    "REGISTRY", "DownloadError", "to_backend", "one_hot", "multi_hot", "Normalizer", "normalize",
    "train_val_split", "kfold",
]
