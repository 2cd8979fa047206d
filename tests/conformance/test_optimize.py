"""The scipy.optimize adapter on every backend: host float64 <-> device, one copy each
way per evaluation, every gradient method, bounds, callbacks, interrupts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize

import anynet as an
from anynet.errors import InputError
from anynet.optimize import GRADIENT_METHODS, Objective, minimize

from ._helpers import TOL, get, put, same_place

L = an.layers


def _problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    y = (X @ rng.normal(size=(5, 3))).argmax(axis=1)
    return X, y


def _model(backend=None, dtype="float64", lam=0.0):
    """The test network on the backend under test (NumPy when backend is None)."""
    reg = an.regularizers.L2(lam) if lam else None
    m = an.Sequential([L.Dense(6, activation="sigmoid", kernel_regularizer=reg),
                       L.Dense(3, activation="softmax", kernel_regularizer=reg)], seed=1, dtype=dtype,
                      backend=backend.backend.name if backend else "numpy", device=backend.device if backend else None)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_objective_speaks_host_float64(backend, dtype):
    X, y = _problem()
    model = _model(backend, dtype, lam=0.01)
    obj = Objective(model, put(backend, X), put(backend, y))
    assert isinstance(obj.x0, np.ndarray) and obj.x0.dtype == np.float64 and obj.x0.shape == (model.count_params(),)
    f, g = obj.fun_and_jac(obj.x0)
    assert type(f) is float
    assert isinstance(g, np.ndarray) and g.dtype == np.float64 and g.shape == obj.x0.shape
    loss, grad = model.loss_and_grad(put(backend, X), put(backend, y))
    np.testing.assert_allclose(f, float(loss), rtol=TOL[dtype]["rtol"])
    np.testing.assert_allclose(g, get(backend, grad), rtol=TOL[dtype]["rtol"], atol=TOL[dtype]["atol"])
    assert obj.fun(obj.x0) == f and obj.nfev == 1  # served from the cache


def test_objective_matches_numpy_float64(backend):
    X, y = _problem()
    ref = Objective(_model(), X, y)
    obj = Objective(_model(backend), put(backend, X), put(backend, y))
    x = ref.x0 + 0.1
    f_ref, g_ref = ref.fun_and_jac(x)
    f, g = obj.fun_and_jac(x)
    np.testing.assert_allclose(f, f_ref, rtol=TOL["float64"]["rtol"])
    np.testing.assert_allclose(g, g_ref, rtol=TOL["float64"]["rtol"], atol=TOL["float64"]["atol"])


def test_one_copy_each_way_per_evaluation(backend, monkeypatch):
    X, y = _problem()
    model = _model(backend, "float32")
    obj = Objective(model, put(backend, X), put(backend, y))
    adapter = backend.backend
    calls = {"in": [], "out": 0}
    real_in, real_out = adapter.from_numpy, adapter.to_numpy

    def counted_in(a, device=None):
        calls["in"].append(np.asarray(a).dtype)
        return real_in(a, device)

    def counted_out(x):
        calls["out"] += 1
        return real_out(x)

    monkeypatch.setattr(adapter, "from_numpy", counted_in)
    monkeypatch.setattr(adapter, "to_numpy", counted_out)
    for k in range(3):
        obj.fun_and_jac(obj.x0 + k)
    assert calls["in"] == [np.dtype("float32")] * 3  # theta crosses in the model's dtype
    assert calls["out"] == 3


@pytest.mark.parametrize("method", sorted(GRADIENT_METHODS))
def test_every_gradient_method_lowers_the_loss(backend, method):
    X, y = _problem()
    model = _model(backend)
    before = model.evaluate(put(backend, X), put(backend, y), return_dict=True)["loss"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.optimize.OptimizeWarning)  # no ignored options
        res = minimize(model, put(backend, X), put(backend, y), method=method, options={"maxiter": 15})
    after = model.evaluate(put(backend, X), put(backend, y), return_dict=True)["loss"]
    assert isinstance(res, scipy.optimize.OptimizeResult) and type(res.fun) is float
    assert after < before
    assert after == pytest.approx(res.fun, rel=1e-9)  # the model holds res.x
    same_place(backend, model.params, "float64")
    assert len(res.history["loss"]) == len(res.history["nfev"]) > 0


def test_training_keeps_the_model_dtype(backend):
    X, y = _problem()
    model = _model(backend, "float32")
    minimize(model, put(backend, X), put(backend, y), method="L-BFGS-B", options={"maxiter": 5})
    same_place(backend, model.params, "float32")


def test_bounds_are_respected(backend):
    X, y = _problem()
    model = _model(backend).build((5,))
    n = model.count_params()
    minimize(model, put(backend, X), put(backend, y), method="L-BFGS-B", bounds=[(-0.05, 0.05)] * n,
             options={"maxiter": 20})
    w = get(backend, model.params)
    assert w.min() >= -0.05 and w.max() <= 0.05


def test_tnc_takes_maxiter_as_its_evaluation_budget(backend):
    X, y = _problem()
    model = _model(backend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy would warn "Unknown solver options: maxiter"
        res = minimize(model, put(backend, X), put(backend, y), method="TNC", options={"maxiter": 25})
    assert res.nfev <= 26  # TNC may finish the evaluation in progress


def test_callback_and_progress(backend, capsys):
    X, y = _problem()
    model = _model(backend)
    seen = []
    res = minimize(model, put(backend, X), put(backend, y), method="L-BFGS-B", options={"maxiter": 12}, callback=seen.append, verbose=1,
                   print_every=4)
    assert [s["iteration"] for s in seen] == list(range(1, len(seen) + 1))
    assert [s["loss"] for s in seen] == res.history["loss"]
    assert all(b >= a for a, b in zip(res.history["nfev"], res.history["nfev"][1:]))
    out = capsys.readouterr().out
    assert "iteration     4 - loss: " in out and "L-BFGS-B:" in out


def test_interrupt_keeps_the_best_parameters(backend):
    X, y = _problem()
    model = _model(backend)
    obj_losses = []

    def stop(info):
        obj_losses.append(info["loss"])
        if info["iteration"] == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        minimize(model, put(backend, X), put(backend, y), method="CG", callback=stop)
    kept = model.evaluate(put(backend, X), put(backend, y), return_dict=True)["loss"]
    assert kept <= min(obj_losses) + 1e-12


@pytest.mark.parametrize("kwargs,pattern", [
    ({"method": "dogleg"}, r"method 'dogleg' needs the full Hessian"),
    ({"method": "newton"}, r"Unknown method 'newton'"),
    ({"method": "CG", "bounds": [(0, 1)]}, r"method 'CG' does not take bounds"),
    ({"method": "L-BFGS-B", "bounds": [(0, 1)] * 3}, r"bounds must give one \(low, high\) pair per parameter: 57, got 3"),
])
def test_bad_arguments(backend, kwargs, pattern):
    X, y = _problem()
    with pytest.raises(InputError, match=pattern):
        minimize(_model(backend), put(backend, X), put(backend, y), **kwargs)


def test_wrong_vector_length_is_refused(backend):
    X, y = _problem()
    with pytest.raises(InputError, match=r"The parameter vector must have shape \(57,\), got \(5,\)"):
        Objective(_model(backend), put(backend, X), put(backend, y)).fun(np.zeros(5))
