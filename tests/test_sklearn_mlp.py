"""anynet.sklearn.MLPClassifier / MLPRegressor: scikit-learn's own estimator checks, parity
with scikit-learn's MLP from the same weights, and the array API (torch, array-api-strict).

scikit-learn's array-API checks need SCIPY_ARRAY_API=1 before scipy is imported; a normal
run declares them expected failures here and reruns them in a subprocess that sets it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from numpy.testing import assert_allclose  # noqa: E402
from sklearn import config_context  # noqa: E402
from sklearn.datasets import load_digits, make_classification, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLPClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SkMLPRegressor  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from anynet.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARRAY_API = os.environ.get("SCIPY_ARRAY_API") == "1"
_NEEDS_ENV = "scikit-learn's array API dispatch needs SCIPY_ARRAY_API=1 before scipy is imported; " \
             "test_array_api_checks_in_a_subprocess runs these checks with it"


def _expected_failures(estimator) -> dict[str, str]:
    """Checks that cannot pass, with the reason (scikit-learn skips its array-API checks itself
    when SCIPY_ARRAY_API is unset; test_array_api_checks_in_a_subprocess runs them)."""
    if isinstance(estimator, MLPClassifier) and estimator.solver == "lbfgs":
        return {"check_classifiers_multilabel_output_format_predict_proba":
                "L-BFGS fits this small separable multi-label set until some sigmoid outputs are exactly 1.0 "
                "in float64, which the check forbids; scikit-learn's own MLPClassifier(solver='lbfgs') does "
                "the same on it (its own suite checks only the default solver)"}
    return {}


ESTIMATORS = [MLPClassifier(), MLPRegressor(), MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.mark.slow
@pytest.mark.skipif(ARRAY_API, reason="this run already has SCIPY_ARRAY_API=1 and runs the checks itself")
def test_array_api_checks_in_a_subprocess():
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", str(Path(__file__)), "-q", "-p", "no:cacheprovider",
                          "-k", "array_api or device", "-W", "ignore::sklearn.exceptions.ConvergenceWarning"],
                         capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout


# -- parity with scikit-learn ------------------------------------------------------------------------
def _weights(layer_units, seed=7):
    rng = np.random.RandomState(seed)
    coefs = [rng.normal(0, 0.3, (a, b)) for a, b in zip(layer_units[:-1], layer_units[1:])]
    intercepts = [rng.normal(0, 0.1, b) for b in layer_units[1:]]
    return coefs, intercepts


def _pair(task):
    """Return (anynet estimator, scikit-learn estimator, X, y) for a task, same hyper-parameters."""
    kw = dict(hidden_layer_sizes=(7, 5), solver="sgd", momentum=0.0, shuffle=False, alpha=0.3, batch_size=32,
              learning_rate_init=0.05, max_iter=1, random_state=0)
    if task == "regression":
        X, y = make_regression(n_samples=100, n_features=6, n_targets=3, random_state=0)
        y = y / 100
        return MLPRegressor(activation="tanh", **kw), SkMLPRegressor(activation="tanh", **kw), X, y
    if task == "multilabel":
        X, y = make_multilabel_classification(n_samples=100, n_features=6, n_classes=3, random_state=0)
        return MLPClassifier(activation="logistic", **kw), SkMLPClassifier(activation="logistic", **kw), X, y
    X, y = make_classification(n_samples=100, n_features=6, n_informative=4, n_classes=2 if task == "binary" else 4,
                               random_state=0)
    return MLPClassifier(**kw), SkMLPClassifier(**kw), X, y


@pytest.mark.parametrize("task", ["multiclass", "binary", "multilabel", "regression"])
def test_first_sgd_steps_equal_sklearn_from_the_same_weights(task):
    ours, theirs, X, y = _pair(task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    units = [X.shape[1], 7, 5, ours.n_outputs_]
    coefs, intercepts = _weights(units)
    for est in (ours, theirs):
        est.coefs_ = [c.copy() for c in coefs]
        est.intercepts_ = [b.copy() for b in intercepts]
    for _ in range(3):  # 3 epochs of 4 batches (32, 32, 32, 4): the L2 term follows the batch size
        ours.partial_fit(X, y)
        theirs.partial_fit(X, y)
        assert_allclose(ours.loss_, theirs.loss_, rtol=1e-13)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-13)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("params", [
    dict(solver="adam"),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate="invscaling", learning_rate_init=0.1),
    dict(solver="sgd", momentum=0.5, nesterovs_momentum=False, learning_rate="adaptive", n_iter_no_change=2,
         tol=0.05),
    dict(solver="adam", early_stopping=True, validation_fraction=0.2, n_iter_no_change=3),
], ids=["adam", "nesterov-invscaling", "momentum-adaptive", "early-stopping"])
def test_same_random_state_trains_like_sklearn(params):
    """Same random_state: the same initial draws, shuffles and split, so the same training."""
    X, y = load_digits(return_X_y=True)
    X = X[:400] / 16
    y = y[:400]
    kw = dict(hidden_layer_sizes=(20,), max_iter=15, random_state=3, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**kw).fit(X, y)
        theirs = SkMLPClassifier(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    if params.get("early_stopping"):
        assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_ and ours.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7, atol=1e-9)


def test_lbfgs_follows_sklearn():
    X, y = make_regression(n_samples=80, n_features=5, random_state=1)
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, random_state=0, alpha=1e-2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(**kw).fit(X, y / 50)
        theirs = SkMLPRegressor(**kw).fit(X, y / 50)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-8)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-8)
    assert len(ours.loss_curve_) == ours.n_iter_ and ours.best_loss_ <= ours.loss_curve_[0]


def test_poisson_loss_follows_sklearn():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 4))
    y = rng.poisson(np.exp(X[:, 0] * 0.5))
    kw = dict(loss="poisson", hidden_layer_sizes=(6,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPRegressor(**kw).fit(X, y), SkMLPRegressor(**kw).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-8)
    with pytest.raises(ValueError, match="y >= 0"):
        MLPRegressor(loss="poisson").fit(X, -y - 1)


# -- labels, attributes, partial_fit, warm_start -----------------------------------------------------
def test_string_labels_predict_proba_and_score():
    X, y = make_classification(n_samples=120, n_features=5, n_classes=3, n_informative=3, random_state=0)
    labels = np.array(["cat", "dog", "emu"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(10,), max_iter=300, random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    P = clf.predict_proba(X)
    assert P.shape == (120, 3) and np.allclose(P.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= {"cat", "dog", "emu"}
    assert clf.score(X, labels) > 0.8
    assert_allclose(clf.predict_log_proba(X), np.log(P))
    assert clf.n_features_in_ == 5 and clf.n_layers_ == 3 and clf.n_outputs_ == 3
    assert clf.out_activation_ == "softmax" and clf.t_ == clf.n_iter_ * 120


def test_multilabel_indicator_output():
    X, Y = make_multilabel_classification(n_samples=80, n_features=6, n_classes=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(12,), max_iter=200, random_state=0).fit(X, Y)
    pred = clf.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert clf.predict_proba(X).shape == (80, 4) and clf.out_activation_ == "logistic"


def test_partial_fit_needs_classes_and_refuses_lbfgs():
    X, y = make_classification(n_samples=50, n_features=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:20], y[:20], classes=[0, 1])
    clf.partial_fit(X[20:], y[20:])
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 2
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")


def test_warm_start_continues_from_the_fitted_weights():
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first = [c.copy() for c in clf.coefs_]
        clf.fit(X, y)
    assert len(clf.loss_curve_) == 10
    assert not np.allclose(first[0], clf.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X, np.where(y == 1, 2, y))


def test_verbose_prints_sklearns_lines(capsys):
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True, random_state=0).fit(X, y)
    assert capsys.readouterr().out.splitlines()[0].startswith("Iteration 1, loss = ")


def test_bad_parameters_and_inputs():
    X, y = make_classification(n_samples=30, n_features=4, random_state=0)
    with pytest.raises(ValueError, match="momentum"):
        MLPClassifier(solver="sgd", momentum=1.0).fit(X, y)
    with pytest.raises(ValueError, match="dtype"):
        MLPClassifier(dtype="float16").fit(X, y)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="[Ss]parse"):
        MLPClassifier().fit(scipy_sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(3, 0)).fit(X, y)


def test_float32_data_trains_in_float32_and_dtype_overrides():
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert clf.fit(X.astype(np.float32), y).coefs_[0].dtype == np.float32
        assert clf.set_params(dtype="float32").fit(X, y).predict_proba(X).dtype == np.float32
        assert clf.set_params(dtype=None).fit(X, y).coefs_[0].dtype == np.float64


def test_pickle_round_trip_keeps_predictions():
    import pickle

    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    assert_allclose(again.predict_proba(X), clf.predict_proba(X))


def test_feature_names_in():
    pd = pytest.importorskip("pandas")
    X, y = make_classification(n_samples=30, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2).fit(df, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c"]


def test_import_anynet_does_not_need_sklearn():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'sklearn' or name.startswith('sklearn.'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import anynet\n"
            "assert 'sklearn' not in sys.modules and 'anynet.sklearn' not in sys.modules\n"
            "try:\n"
            "    import anynet.sklearn\n"
            "except ImportError as e:\n"
            "    print('refused:', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install 'anynet-nn[sklearn]'" in out.stdout


# -- the array API: training on the array's own device --------------------------------------------
def _namespaces():
    out = []
    for name, devices in (("torch", ["cpu"]), ("array_api_strict", ["CPU_DEVICE", "device1"])):
        for dev in devices:
            out.append(pytest.param(name, dev, id=f"{name}-{dev}"))
    return out


@pytest.mark.skipif(not ARRAY_API, reason=_NEEDS_ENV)
@pytest.mark.parametrize("lib, device", _namespaces())
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_array_api_trains_on_the_device_and_matches_numpy(Est, lib, device):
    from anynet import backends

    adapter = backends.get(lib)
    if not adapter.is_available():
        pytest.skip(f"{lib} is not installed")
    dev = adapter.device(device)
    X, y = make_classification(n_samples=60, n_features=5, random_state=0)
    est = Est(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = est.fit(X, y)
        ref_pred = ref.predict(X)
        ref_coef = ref.coefs_[0].copy()
        Xd, yd = adapter.from_numpy(X, dev), adapter.from_numpy(y, dev)
        with config_context(array_api_dispatch=True):
            est_d = Est(hidden_layer_sizes=(6,), max_iter=5, random_state=0).fit(Xd, yd)
            pred = est_d.predict(Xd)
            score = est_d.score(Xd, yd)
    assert backends.for_array(est_d.coefs_[0]) is adapter and str(adapter.device_of(est_d.coefs_[0])) == str(dev)
    assert backends.for_array(pred) is adapter and str(adapter.device_of(pred)) == str(dev)
    assert_allclose(adapter.to_numpy(est_d.coefs_[0]), ref_coef, rtol=1e-10, atol=1e-12)
    assert_allclose(adapter.to_numpy(pred), ref_pred, rtol=1e-10, atol=1e-12)
    assert isinstance(score, float)


def test_backend_parameter_trains_elsewhere_numpy_in_and_out():
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0,
                            backend="array_api_strict", device="device1").fit(X, y)
    assert type(clf.coefs_[0]) is np.ndarray and type(clf.predict_proba(X)) is np.ndarray
    assert_allclose(clf.predict_proba(X), ref.predict_proba(X), rtol=1e-10)


def test_sklearn_lbfgs_saturates_on_the_multilabel_check_too():
    """The reason given for the one expected failure holds for scikit-learn itself."""
    from sklearn.preprocessing import scale

    X, y = make_multilabel_classification(n_samples=100, n_features=2, n_classes=5, n_labels=3, length=50,
                                          allow_unlabeled=True, random_state=0)
    X = scale(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for Est in (SkMLPClassifier, MLPClassifier):
            P = Est(solver="lbfgs", random_state=0).fit(X[:75], y[:75]).predict_proba(X[75:])
            assert P.max() == 1.0
