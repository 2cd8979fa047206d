"""Preparing data: one-hot, multi-hot, normalisation with training statistics, splits, K-fold, moving to a backend."""

from __future__ import annotations

import numpy as np
import pytest

from anynet.datasets import Normalizer, kfold, multi_hot, normalize, one_hot, to_backend, train_val_split
from anynet.errors import InputError


def test_one_hot():
    Y = one_hot(np.array([2, 0, 1]), 4)
    assert Y.dtype == np.float32 and Y.shape == (3, 4)
    np.testing.assert_array_equal(Y, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert one_hot([[1], [0]]).shape == (2, 2)  # a column of labels; num_classes from the data
    with pytest.raises(InputError, match=r"labels 0..5, expected 0..2 for num_classes=3"):
        one_hot([0, 5], 3)
    with pytest.raises(InputError, match="integer class labels"):
        one_hot([0.5, 1.0])


def test_multi_hot_is_the_books_vectorize_sequences():
    seqs = [[1, 3, 3], [], [0, 9]]
    X = multi_hot(seqs, 10)
    expect = np.zeros((3, 10))
    for i, s in enumerate(seqs):
        expect[i, s] = 1.0
    np.testing.assert_array_equal(X, expect)
    assert X.dtype == np.float32
    with pytest.raises(InputError, match=r"multi_hot\(dim=10\) got index 12; indices must lie in 0..9"):
        multi_hot([[1, 12]], 10)


def test_normalize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, size=(200, 4))
    test = rng.normal(50.0, 1.0, size=(20, 4))
    a, b = normalize(train, test)
    np.testing.assert_allclose(a.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(a.std(0), 1, atol=1e-12)
    np.testing.assert_allclose(b, (test - train.mean(0)) / train.std(0))
    norm = Normalizer().fit(np.array([[1, 7], [3, 7]]))
    assert norm.transform(np.array([[2, 7]], dtype=np.int64)).dtype == np.float32
    np.testing.assert_array_equal(norm.std, [1, 1])  # a constant feature is left at scale 1
    with pytest.raises(InputError, match=r"fitted on samples of shape \(2,\), got x with shape \(1, 3\)"):
        norm.transform(np.zeros((1, 3)))
    with pytest.raises(InputError, match="before fit"):
        Normalizer().transform(train)


def test_train_val_split():
    X, y = np.arange(20).reshape(10, 2), np.arange(10)
    (xt, yt), (xv, yv) = train_val_split(X, y, 0.3, seed=0)
    assert len(xv) == 3 and len(xt) == 7 and sorted(np.concatenate([yt, yv]).tolist()) == list(range(10))
    np.testing.assert_array_equal(xv[:, 0] // 2, yv)  # rows stay with their labels
    (xt, yt), (xv, yv) = train_val_split(X, y, 4, seed=None)  # the book's x_train[:n]
    assert yv.tolist() == [0, 1, 2, 3] and yt.tolist() == [4, 5, 6, 7, 8, 9]
    for bad in (0.0, 1.0, 10, 0, "a"):
        with pytest.raises(InputError):
            train_val_split(X, y, bad)
    with pytest.raises(InputError, match="X has 10 samples but y has 3"):
        train_val_split(X, y[:3])


def test_kfold():
    folds = list(kfold(404, 4))
    assert [len(v) for _, v in folds] == [101] * 4
    assert folds[1][1].tolist() == list(range(101, 202))  # the book's consecutive folds
    assert folds[1][0].tolist() == list(range(101)) + list(range(202, 404))
    seen = np.concatenate([v for _, v in kfold(10, 3, seed=1)])
    assert sorted(seen.tolist()) == list(range(10))
    for tr, va in kfold(10, 3, seed=1):
        assert not set(tr) & set(va) and len(tr) + len(va) == 10
    with pytest.raises(InputError, match="k >= 2"):
        list(kfold(10, 1))
    with pytest.raises(InputError, match="n >= k"):
        list(kfold(3, 4))


def test_to_backend_keeps_the_structure(backend):
    x, y = np.ones((3, 2), np.float32), np.arange(3)
    (a, b), (c, d) = to_backend(((x, y), (x, y)), backend=backend.backend.name, device=backend.device)
    for arr, ref in ((a, x), (b, y), (c, x), (d, y)):
        assert backend.backend.owns(arr) and str(backend.backend.device_of(arr)) == str(backend.device)
        np.testing.assert_array_equal(backend.backend.to_numpy(arr), ref)
    out = to_backend({"x": x, "n": 3}, backend=backend.backend.name, device=backend.device)
    assert out["n"] == 3 and backend.backend.owns(out["x"])
    with pytest.raises(InputError, match="object array"):
        to_backend(np.empty(2, dtype=object), backend=backend.backend.name)
