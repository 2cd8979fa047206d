"""anynet.reports: the confusion matrix and classification report, with and without scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest

from anynet import reports
from anynet.errors import InputError

Y_TRUE = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 3])
Y_PRED = np.array([0, 1, 1, 1, 0, 2, 2, 1, 2, 2])


@pytest.fixture(params=["sklearn", "numpy"])
def impl(request, monkeypatch):
    if request.param == "sklearn":
        pytest.importorskip("sklearn")
    else:
        monkeypatch.setattr(reports, "_sklearn", lambda: None)
    return request.param


def test_confusion_matrix(impl):
    cm = reports.confusion_matrix(Y_TRUE, Y_PRED)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, [[1, 1, 0, 0], [1, 2, 0, 0], [0, 1, 3, 0], [0, 0, 1, 0]])
    cm = reports.confusion_matrix(Y_TRUE, np.eye(4)[Y_PRED], labels=[2, 0])  # scores: argmax; label order
    np.testing.assert_array_equal(cm, [[3, 0], [0, 1]])


def test_classification_report_numbers(impl):
    text = reports.classification_report(Y_TRUE, Y_PRED, target_names=["a", "b", "c", "d"], digits=3)
    rows = {ln.split()[0]: ln.split()[1:] for ln in text.splitlines() if ln.strip()}
    # class c: precision 3/4, recall 3/4; class d: never predicted, so precision 0 (no warning, no nan)
    assert rows["c"] == ["0.750", "0.750", "0.750", "4"]
    assert rows["d"] == ["0.000", "0.000", "0.000", "1"]
    assert rows["b"][:2] == ["0.500", "0.667"]
    assert rows["accuracy"] == ["0.600", "10"]
    assert rows["macro"][1:3] == ["0.438", "0.479"]  # (1/2 + 2/4 + 3/4 + 0) / 4, (1/2 + 2/3 + 3/4 + 0) / 4


def test_both_implementations_agree(monkeypatch):
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 6, 300), rng.integers(0, 6, 300)
    sk = reports.classification_report(y, p), reports.confusion_matrix(y, p)
    monkeypatch.setattr(reports, "_sklearn", lambda: None)
    mine = reports.classification_report(y, p), reports.confusion_matrix(y, p)
    np.testing.assert_array_equal(sk[1], mine[1])
    numbers = lambda t: [x for x in t.split() if x[0].isdigit()]  # noqa: E731
    assert numbers(sk[0]) == numbers(mine[0])


def test_binary_probabilities_are_thresholded():
    probs = np.array([[0.9], [0.2], [0.51], [0.4]], dtype=np.float32)  # a sigmoid output
    np.testing.assert_array_equal(reports.as_labels(probs), [1, 0, 1, 0])
    np.testing.assert_array_equal(reports.confusion_matrix([1, 0, 0, 0], probs), [[2, 1], [0, 1]])
    np.testing.assert_array_equal(reports.as_labels(np.array([[1.0], [0.0]])), [1.0, 0.0])  # labels as floats


def test_bad_input():
    with pytest.raises(InputError, match="y_true has 10 samples but y_pred has 3"):
        reports.confusion_matrix(Y_TRUE, Y_PRED[:3])
    with pytest.raises(InputError, match="target_names has 2 names for 4 labels"):
        reports.classification_report(Y_TRUE, Y_PRED, target_names=["a", "b"])
    with pytest.raises(InputError, match=r"shape \(n,\) or scores of shape \(n, k\), got shape \(2, 2, 2\)"):
        reports.as_labels(np.zeros((2, 2, 2)))
