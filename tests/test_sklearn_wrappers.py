"""AnynetClassifier / AnynetRegressor: any anynet model in pipelines and grid searches."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from numpy.testing import assert_allclose  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import anynet as an  # noqa: E402
from anynet.sklearn import AnynetClassifier, AnynetRegressor  # noqa: E402


def mlp(units=16, n_features_in_=None, n_classes_=None, seed=None):
    return an.Sequential([an.layers.Input((n_features_in_,)), an.layers.Dense(units, "relu"),
                          an.layers.Dense(n_classes_, "softmax")], seed=seed)


def binary(n_features_in_, seed=None):
    model = an.Sequential([an.layers.Input((n_features_in_,)), an.layers.Dense(8, "relu"),
                           an.layers.Dense(1, "sigmoid")], seed=seed)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def regressor(meta, hidden=8):
    return an.Sequential([an.layers.Input(meta["X_shape_"]), an.layers.Dense(hidden, "relu"),
                          an.layers.Dense(meta["n_outputs_"])], seed=meta.get("seed"))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X[:600] / 16).astype(np.float32), y[:600]


def test_routed_parameters_reach_the_model_and_the_optimizer(digits):
    X, y = digits
    clf = AnynetClassifier(mlp, model__units=24, epochs=3, optimizer="adam", optimizer__learning_rate=1e-2,
                           random_state=0)
    params = clf.get_params()
    assert params["model__units"] == 24 and params["optimizer__learning_rate"] == 1e-2
    clf.fit(X, y)
    assert clf.model_.layers[1].units == 24
    assert clf.model_.optimizer.learning_rate == 1e-2 and clf.model_.optimizer.name == "adam"
    assert len(clf.history_["loss"]) == 3
    assert clf.score(X, y) > 0.8
    P = clf.predict_proba(X)
    assert P.shape == (600, 10) and np.allclose(P.sum(axis=1), 1, atol=1e-5)
    twin = clone(clf)
    assert twin.get_params()["model__units"] == 24 and not hasattr(twin, "model_")
    with pytest.raises(TypeError, match="routed"):
        AnynetClassifier(mlp, units=3)


def test_grid_search_over_model_and_fit_parameters(digits):
    X, y = digits
    clf = AnynetClassifier(mlp, epochs=2, optimizer="adam", random_state=0)
    search = GridSearchCV(clf, {"model__units": [4, 32], "batch_size": [32]}, cv=2).fit(X, y)
    assert search.best_params_["model__units"] == 32
    assert search.best_estimator_.model_.layers[1].units == 32


def test_string_labels_and_a_compiled_binary_model():
    X, y = load_digits(n_class=2, return_X_y=True)
    labels = np.array(["zero", "one"])[y]
    clf = AnynetClassifier(binary, epochs=5, random_state=0).fit(X / 16, labels)
    assert list(clf.classes_) == ["one", "zero"]
    assert clf.predict_proba(X / 16).shape == (len(X), 2)
    assert clf.score(X / 16, labels) > 0.9


def test_regressor_in_a_pipeline_with_cross_validation_and_pickle():
    X, y = make_regression(n_samples=200, n_features=5, noise=1.0, random_state=0)
    reg = AnynetRegressor(regressor, model__hidden=16, epochs=30, optimizer="adam",
                          optimizer__learning_rate=1e-2, random_state=0)
    scores = cross_val_score(make_pipeline(StandardScaler(), reg), X, y / 100, cv=3)
    assert scores.mean() > 0.8
    reg.fit(X, y / 100)
    again = pickle.loads(pickle.dumps(reg))
    assert_allclose(again.predict(X), reg.predict(X), rtol=1e-6)
    assert again.predict(X).shape == (200,)


def test_partial_fit_and_warm_start_keep_training_the_same_model(digits):
    X, y = digits
    clf = AnynetClassifier(mlp, epochs=1, warm_start=True, random_state=0)
    clf.fit(X, y)
    first = clf.model_
    clf.fit(X, y)
    clf.partial_fit(X, y)
    assert clf.model_ is first and len(clf.history_["loss"]) == 3
