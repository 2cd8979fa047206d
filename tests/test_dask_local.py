"""Dask arrays on Dask's default scheduler (no cluster): results equal in-memory NumPy, bad input refused.

The cluster tests (worker processes, a killed worker) are in test_dask_cluster.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import anynet as an
from anynet import backends, chunked
from anynet.errors import BackendError, InputError, InputTypeError, NonFiniteOutputError
from anynet.layers import Dense, Dropout, Flatten
from anynet.optimize import Objective, minimize

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
dask = pytest.importorskip("dask")

N, D, K = 300, 6, 3


@pytest.fixture(autouse=True)
def _threads():
    """Dask's default scheduler for arrays; the 'no cluster' note is allowed (one test checks it)."""
    with dask.config.set(scheduler=None), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="anynet: no Dask distributed Client")
        yield


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(N, D)), rng.integers(0, K, N)


def model(l2: float = 0.01, seed: int = 1, **kw) -> an.Sequential:
    m = an.Sequential([Dense(5, activation="sigmoid", kernel_regularizer=an.regularizers.L2(l2)),
                       Dense(K, activation="softmax")], dtype="float64", seed=seed, **kw)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_the_dask_adapter_is_listed_and_chunked():
    assert "dask" in backends.names()
    status = backends.get("dask").status()
    assert status.usable and status.devices == ["default scheduler"] and status.version == dask.__version__
    assert backends.get("dask").chunked and not backends.get("numpy").chunked
    X, _ = data()
    assert chunked.handles(da.from_array(X)) and not chunked.handles(X, None)


def test_minimize_equals_in_memory_with_x_and_y_chunked_differently():
    X, y = data()
    mem, dsk = model(), model()
    r1 = minimize(mem, X, y, method="L-BFGS-B", options={"maxiter": 25})
    r2 = minimize(dsk, da.from_array(X, chunks=(70, D)), da.from_array(y, chunks=110), method="L-BFGS-B",
                  options={"maxiter": 25})
    assert r1.nit == r2.nit
    np.testing.assert_allclose(r2.x, r1.x, rtol=0, atol=1e-8)
    assert abs(r1.fun - r2.fun) < 1e-12
    np.testing.assert_allclose(dsk.get_weights()[0], mem.get_weights()[0], rtol=0, atol=1e-8)


def test_objective_gradient_equals_in_memory_and_in_memory_y_is_chunked_like_x():
    X, y = data()
    mem = Objective(model(), X, y)
    dsk = Objective(model(), da.from_array(X, chunks=(64, D)), y)
    f1, g1 = mem.fun_and_jac(mem.x0)
    f2, g2 = dsk.fun_and_jac(dsk.x0)
    assert abs(f1 - f2) < 1e-14 and np.abs(g1 - g2).max() < 1e-14
    assert dsk._chunked.y.chunks[0] == dsk._chunked.X.chunks[0] == (64, 64, 64, 64, 44)


def test_regularization_is_added_once_not_per_chunk():
    X, y = data()
    reg, plain = model(l2=0.5), model(l2=0.0)
    plain.build((D,))
    lg = chunked.LossGrad(reg, da.from_array(X, chunks=(50, D)), y)
    x = reg.get_params_copy()
    s = lg.adapter.tree_sum(chunked.loss_grad_chunk, [lg.X, lg.y], [lg.program, x])
    loss, g = plain.loss_and_grad(X, y, theta=x)  # the data term alone, in memory
    assert abs(s[1] / N - float(loss)) < 1e-14  # the chunks' sums hold no penalty
    p, pg = chunked.penalty(reg, x)
    assert p > 0.1
    f, grad = lg(x)
    assert abs(f - (float(loss) + p)) < 1e-14
    np.testing.assert_allclose(grad, np.asarray(g) + pg, rtol=0, atol=1e-14)


def test_unknown_chunk_sizes_are_made_known():
    X, y = data()
    keep = X[:, 0] > -0.5
    Xd, yd = da.from_array(X, chunks=(50, D)), da.from_array(y, chunks=50)
    mask = da.from_array(keep, chunks=50)
    Xu, yu = Xd[mask], yd[mask]
    assert np.isnan(Xu.shape[0])
    mem, dsk = Objective(model(), X[keep], y[keep]), Objective(model(), Xu, yu)
    assert dsk._chunked.n == int(keep.sum())
    f1, g1 = mem.fun_and_jac(mem.x0)
    f2, g2 = dsk.fun_and_jac(dsk.x0)
    assert abs(f1 - f2) < 1e-14 and np.abs(g1 - g2).max() < 1e-14
    P = dsk.model.predict(Xu)  # predict stays lazy: unknown rows stay unknown
    assert np.isnan(P.shape[0])
    np.testing.assert_allclose(P.compute(), mem.model.predict(X[keep]), rtol=0, atol=1e-14)


def test_chunks_along_features_are_rechunked_with_a_warning():
    X, y = data()
    Xf = da.from_array(X, chunks=(100, 4))
    with pytest.warns(UserWarning, match=r"X is split along axes other than the samples .*2 chunks on axis 1.*"
                                         r"X.rechunk\(\{1: -1\}\)"):
        dsk = Objective(model(), Xf, y)
    mem = Objective(model(), X, y)
    assert dsk._chunked.X.chunks[1] == (D,)
    assert abs(dsk.fun(dsk.x0) - mem.fun(mem.x0)) < 1e-14


@pytest.mark.parametrize("dtype, which", [("complex128", "X"), ("object", "X"), ("<U3", "y")])
def test_a_dtype_anynet_cannot_train_on_is_refused_before_any_task_runs(dtype, which):
    X, y = data()
    ran = []

    def source(shape):
        ran.append(shape)
        return np.zeros(shape, dtype=dtype)

    lazy = lambda shape: da.from_delayed(dask.delayed(source)(shape), shape=shape, dtype=dtype)  # noqa: E731
    Xd = lazy((N, D)) if which == "X" else da.from_array(X, chunks=100)
    yd = lazy((N,)) if which == "y" else y
    kind = {"complex128": "complex128", "object": "object", "<U3": "<U3"}[dtype]
    with pytest.raises(InputTypeError, match=rf"{which} holds {kind} data; anynet trains on real numbers .*"
                                             rf"{which}.astype\('float32'\). Refused before any task ran."):
        Objective(model(), Xd, yd)
    with pytest.raises(InputTypeError, match="Refused before any task ran"):
        model().evaluate(Xd, yd)
    assert ran == []


def test_bad_values_are_refused_with_the_in_memory_messages():
    X, y = data()
    X_nan = X.copy()
    X_nan[200, 3] = np.nan
    with pytest.raises(InputError, match=r"X contains 1 NaN or infinite value"):
        Objective(model(), da.from_array(X_nan, chunks=(100, D)), y)
    y_bad = y.copy()
    y_bad[5] = 7
    with pytest.raises(InputError, match=r"Labels must be in 0..2 for a model with 3 outputs; y holds values "
                                         r"from 0 to 7"):
        model().evaluate(da.from_array(X, chunks=(100, D)), da.from_array(y_bad, chunks=100))
    with pytest.raises(InputError, match=r"X and y hold different numbers of samples: X has 300 \(shape \(300, 6\)\), "
                                         r"y has 299"):
        Objective(model(), da.from_array(X, chunks=(100, D)), da.from_array(y[:-1], chunks=100))
    with pytest.raises(InputError, match=r"Dense\(5\) expected 6 input features, got X with shape \(300, 7\)"):
        m = model()
        m.build((D,))
        Objective(m, da.from_array(np.ones((N, 7)), chunks=(100, 7)), y)
    with pytest.raises(InputError, match=r"X is in memory but y is a Dask array"):
        Objective(model(), X, da.from_array(y, chunks=100))


def test_integer_images_are_cast_to_the_model_dtype_on_the_workers():
    rng = np.random.default_rng(3)
    X, y = rng.integers(0, 255, size=(N, D), dtype=np.uint8), rng.integers(0, K, N)
    mem, dsk = Objective(model(), X, y), Objective(model(), da.from_array(X, chunks=(100, D)), y)
    assert dsk._chunked.X.dtype == np.float64
    assert abs(mem.fun(mem.x0) - dsk.fun(dsk.x0)) < 1e-12


def test_predict_is_lazy_with_row_chunks_and_meta():
    X, _ = data()
    m = model()
    m.build((D,))
    P = m.predict(da.from_array(X, chunks=(80, D)))
    assert isinstance(P, da.Array)
    assert P.chunks == ((80, 80, 80, 60), (K,)) and P.dtype == np.float64
    assert type(P._meta) is np.ndarray and P._meta.ndim == 2
    np.testing.assert_allclose(P.compute(), m.predict(X), rtol=0, atol=1e-15)


def test_predict_uses_the_parameters_of_the_call_and_drops_sample_axes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2, 3))
    m = an.Sequential([Flatten(), Dense(4, activation="softmax")], dtype="float32", seed=0)
    P = m.predict(da.from_array(X, chunks=(16, 2, 3)))
    before = m.predict(X)
    m.set_weights([w + 1 for w in m.get_weights()])
    assert P.chunks == ((16, 16, 8), (4,)) and P.dtype == np.float32
    np.testing.assert_allclose(P.compute(), before, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_predict_refuses_an_overflow_when_computed():
    m = an.Sequential([Dense(2)], dtype="float32", seed=0)
    m.build((2,))
    m.set_weights([np.full((2, 2), 3e38, np.float32), np.zeros(2, np.float32)])
    P = m.predict(da.from_array(np.ones((10, 2)), chunks=(5, 2)))
    with pytest.raises(NonFiniteOutputError, match="predict: 10 of the 10 outputs are NaN or infinite"):
        P.compute()


def test_evaluate_equals_in_memory():
    X, y = data()
    m = model()
    m.build((D,))
    mem = m.evaluate(X, y, return_dict=True)
    dsk = m.evaluate(da.from_array(X, chunks=(70, D)), da.from_array(y, chunks=(90,)), return_dict=True)
    assert mem.keys() == dsk.keys() == {"loss", "accuracy"}
    assert abs(mem["loss"] - dsk["loss"]) < 1e-14 and mem["accuracy"] == dsk["accuracy"]
    assert m.evaluate(da.from_array(X, chunks=(70, D)), y) == pytest.approx(list(mem.values()), abs=1e-14)


def test_fit_full_batch_equals_in_memory_full_batch():
    X, y = data()
    mem, dsk = model(), model()
    h1 = mem.fit(X, y, batch_size=N, epochs=4, shuffle=False, verbose=0, validation_split=0.2)
    h2 = dsk.fit(da.from_array(X, chunks=(70, D)), da.from_array(y, chunks=(70,)), batch_size=N - 60, epochs=4,
                 verbose=0, validation_split=0.2)
    assert h1.history.keys() == h2.history.keys() == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for k in h1.history:
        np.testing.assert_allclose(h2.history[k], h1.history[k], rtol=0, atol=1e-13)
    for a, b in zip(mem.get_weights(), dsk.get_weights()):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-13)


@pytest.mark.parametrize("batch_size, said", [(None, r"batch_size=None \(None means 32, as in Keras\)"),
                                              (32, "batch_size=32"), (100, "batch_size=100")])
def test_fit_refuses_mini_batches_before_the_data_moves(batch_size, said):
    X, y = data()
    ran = []
    Xd = da.from_array(X, chunks=(100, D)).map_blocks(lambda b: ran.append(1) or b, dtype=X.dtype,
                                                      meta=np.empty((0, 0)))
    with pytest.raises(InputError, match=rf"fit over a Dask array runs full-batch gradient descent: .* all 300 "
                                         rf"training samples .* batch_size must be 300; got {said}"):
        model().fit(Xd, y, batch_size=batch_size, verbose=0)
    assert ran == []


def test_fit_refuses_dropout_and_takes_validation_data():
    X, y = data()
    m = an.Sequential([Dense(4, activation="relu"), Dropout(0.5), Dense(K, activation="softmax")], seed=0)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(InputError, match="does not draw dropout masks"):
        m.fit(da.from_array(X, chunks=(100, D)), y, batch_size=N, verbose=0)
    m = model()
    h = m.fit(da.from_array(X, chunks=(100, D)), y, batch_size=N, epochs=2, verbose=0,
              validation_data=(da.from_array(X[:50], chunks=(25, D)), y[:50]))
    assert h.history["val_loss"][-1] == pytest.approx(m.evaluate(X[:50], y[:50])[0], abs=1e-14)


def test_a_model_cannot_live_on_dask():
    with pytest.raises(BackendError, match="Dask arrays are not a place for a model's parameters"):
        an.Sequential([Dense(2)], backend="dask").build((3,))


def test_no_cluster_is_said_once():
    adapter = backends.get("dask")
    adapter.said_scheduler = False
    X, y = data()
    Xd = da.from_array(X, chunks=(100, D))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model().evaluate(Xd, y)
        model().evaluate(Xd, y)
    said = [w for w in caught if "no Dask distributed Client is running" in str(w.message)]
    assert len(said) == 1 and said[0].filename == __file__
    assert "Dask's default scheduler (threads in this process)" in str(said[0].message)


# Newton-CG's Hessian-vector products are differences of gradients divided by about 1e-8,
# so the chunks' 1e-16 rounding differences grow to about 1e-8 in each product.
@pytest.mark.parametrize("method, atol", [("CG", 1e-8), ("TNC", 1e-8), ("Newton-CG", 1e-3)])
def test_other_scipy_methods_equal_in_memory(method, atol):
    X, y = data()
    mem, dsk = model(), model()
    r1 = minimize(mem, X, y, method=method, options={"maxiter": 5})
    r2 = minimize(dsk, da.from_array(X, chunks=(100, D)), y, method=method, options={"maxiter": 5})
    np.testing.assert_allclose(r2.x, r1.x, rtol=0, atol=atol)
    assert abs(r2.fun - r1.fun) < atol


def test_fit_callbacks_progress_and_resume(tmp_path, capsys):
    X, y = data()
    Xd = da.from_array(X, chunks=(100, D))
    stop = an.EarlyStopping(monitor="loss", patience=0, baseline=0.0)  # never better than 0: stops at once
    h = model().fit(Xd, y, batch_size=N, epochs=5, verbose=2, callbacks=[stop])
    assert len(h.history["loss"]) == 2 and stop.stopped_epoch == 1
    assert "Epoch 1/5" in capsys.readouterr().out
    mem, dsk = model(), model()
    mem.fit(X, y, batch_size=N, epochs=2, shuffle=False, verbose=0)
    mem.save(tmp_path / "two.anynet")
    mem.fit(X, y, batch_size=N, epochs=2, shuffle=False, verbose=0)  # two more epochs, in memory
    h = dsk.fit(Xd, y, batch_size=N, epochs=4, verbose=0, resume_from=tmp_path / "two.anynet")
    assert len(h.history["loss"]) == 4
    np.testing.assert_allclose(dsk.get_weights()[0], mem.get_weights()[0], rtol=0, atol=1e-13)
