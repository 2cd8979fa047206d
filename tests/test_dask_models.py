"""Dask arrays with functional models: several inputs and outputs, summed losses, shared weights, the
chunk program pickled; each result equal to the same computation on in-memory NumPy (default scheduler)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import anynet as an
from anynet import chunked
from anynet.errors import InputError
from anynet.layers import Concatenate, Dense, Reshape
from anynet.optimize import Objective, minimize

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
dask = pytest.importorskip("dask")

N = 240


@pytest.fixture(autouse=True)
def _threads():
    with dask.config.set(scheduler=None), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="anynet: no Dask distributed Client")
        yield


def data(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(N, 4)), rng.normal(size=(N, 2))
    return {"a": a, "b": b}, {"cls": rng.integers(0, 3, N), "reg": rng.normal(size=(N, 2))}


def two_by_two(reg_loss: object = "mse", seed: int = 1) -> an.Model:
    """Two inputs, two outputs: a classifier (softmax) and a regression head (linear)."""
    a, b = an.Input((4,), name="a"), an.Input((2,), name="b")
    h = Dense(5, activation="tanh", kernel_regularizer=an.regularizers.L2(0.01))(a)
    m = Concatenate()([h, b])
    model = an.Model([a, b], [Dense(3, activation="softmax", name="cls")(m), Dense(2, name="reg")(m)],
                     dtype="float64", seed=seed)
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": reg_loss},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"]})
    return model


def dask_inputs(X: dict[str, np.ndarray], rows: int = 70) -> dict[str, object]:
    """a as a Dask array; b left in memory (chunked like a by anynet)."""
    return {"a": da.from_array(X["a"], chunks=(rows, 4)), "b": X["b"]}


def test_two_inputs_two_outputs_minimize_evaluate_and_predict_equal_in_memory():
    X, y = data()
    mem, dsk = two_by_two(), two_by_two()
    r1 = minimize(mem, [X["a"], X["b"]], [y["cls"], y["reg"]], options={"maxiter": 15})
    r2 = minimize(dsk, dask_inputs(X), {"cls": da.from_array(y["cls"], chunks=50), "reg": y["reg"]},
                  options={"maxiter": 15})
    assert r1.nit == r2.nit
    np.testing.assert_allclose(r2.x, r1.x, rtol=0, atol=1e-8)
    want = mem.evaluate(X, y, return_dict=True, verbose=0)
    got = dsk.evaluate(dask_inputs(X, 64), y, return_dict=True, verbose=0)
    assert got.keys() == want.keys() == {"loss", "cls_loss", "reg_loss", "cls_accuracy"}
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-12), k
    P = dsk.predict(dask_inputs(X, 64))
    assert isinstance(P, list) and [p.chunks for p in P] == [((64, 64, 64, 48), (3,)), ((64, 64, 64, 48), (2,))]
    for p, q in zip(P, mem.predict(X)):
        np.testing.assert_allclose(p.compute(), q, rtol=0, atol=1e-12)


def test_a_summed_loss_beside_a_mean_is_the_full_batch_sum_in_fit_and_minimize():
    X, y = data()
    summed = an.losses.MeanSquaredError(reduction="sum")
    mem, dsk = two_by_two(summed), two_by_two(summed)
    o1, o2 = Objective(mem, X, y), Objective(dsk, dask_inputs(X, 50), y)
    f1, g1 = o1.fun_and_jac(o1.x0)
    f2, g2 = o2.fun_and_jac(o2.x0)
    assert f1 > 50 and abs(f2 - f1) < 1e-10 * f1
    np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-12)
    h1 = mem.fit(X, y, batch_size=N, epochs=3, shuffle=False, verbose=0)
    h2 = dsk.fit(dask_inputs(X, 50), y, batch_size=N, epochs=3, verbose=0)
    assert h1.history.keys() == h2.history.keys()
    for k in h1.history:
        np.testing.assert_allclose(h2.history[k], h1.history[k], rtol=1e-12, atol=1e-12, err_msg=k)
    for w1, w2 in zip(mem.get_weights(), dsk.get_weights()):
        np.testing.assert_allclose(w2, w1, rtol=0, atol=1e-12)


def test_predict_of_several_outputs_with_image_shapes_is_one_pass_per_chunk(monkeypatch):
    x = an.Input((3,))
    model = an.Model(x, {"flat": Dense(2, name="flat")(x), "grid": Reshape((2, 2))(Dense(4, name="g")(x))}, seed=0)
    X = np.random.default_rng(0).normal(size=(50, 3)).astype("float32")
    passes = []
    real = chunked.predict_chunk
    monkeypatch.setattr(chunked, "predict_chunk", lambda *a: passes.append(1) or real(*a))
    P = model.predict(da.from_array(X, chunks=(20, 3)))
    assert P.keys() == {"flat", "grid"}
    assert P["grid"].chunks == ((20, 20, 10), (2,), (2,)) and P["grid"].dtype == np.float32
    assert P["flat"].chunks == ((20, 20, 10), (2,))
    (computed,) = dask.compute(P)
    assert len(passes) == 3  # both outputs of a chunk from one pass
    want = model.predict(X)
    for k in P:
        np.testing.assert_allclose(computed[k], want[k], rtol=1e-6)


def test_a_model_sharing_weights_trains_its_own_and_keeps_the_rest():
    X, y = data()
    base = two_by_two()
    base.build()
    sub = an.Model(base.inputs, base.get_layer("cls").output)  # shares base's vector
    sub.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    sub.build()
    assert sub._source is base and sub.dtype == "float64"
    o1, o2 = Objective(sub, X, y["cls"]), Objective(sub, dask_inputs(X), da.from_array(y["cls"], chunks=80))
    f1, g1 = o1.fun_and_jac(o1.x0)
    f2, g2 = o2.fun_and_jac(o2.x0)
    assert abs(f2 - f1) < 1e-13
    np.testing.assert_allclose(g2, g1, rtol=0, atol=1e-13)
    reg = base.layout.of_layer(base._index[id(base.get_layer("reg"))])
    assert all(not g2[s.offset:s.stop].any() for s in reg)  # the other head's weights get no gradient


def test_the_chunk_program_pickles_and_computes_the_same():
    X, y = data()
    model = two_by_two()
    model.build()
    program = chunked.ChunkProgram(model, rows=N)
    again = pickle.loads(pickle.dumps(program))
    assert again.model() is not program.model() and again.model()._source is None
    theta = chunked.host_params(model)
    chunks = (X["a"][:60], X["b"][:60], y["cls"][:60], y["reg"][:60])
    np.testing.assert_array_equal(chunked.loss_grad_chunk(again, theta, *chunks),
                                  chunked.loss_grad_chunk(program, theta, *chunks))
    assert "_owner" not in again.layers[1].__dict__ and "_owner" in model.layers[1].__dict__


def test_ignore_class_is_refused_for_full_batch_training():
    X, y = data()
    model = two_by_two()
    model.compile(optimizer="sgd", loss={"cls": an.losses.SparseCategoricalCrossentropy(ignore_class=0),
                                         "reg": "mse"})
    with pytest.raises(InputError, match=r"ignore_class=0\) averages over the positions it keeps"):
        minimize(model, dask_inputs(X), y)


def test_inputs_all_in_memory_with_dask_targets_are_refused():
    X, y = data()
    with pytest.raises(InputError, match="every input is in memory but y is a Dask array"):
        two_by_two().evaluate(X, {"cls": da.from_array(y["cls"]), "reg": y["reg"]})


def test_arguments_the_dask_paths_do_not_take_are_refused_not_dropped():
    from anynet import chunked_fit

    X, y = data()
    model = two_by_two()
    Xd = dask_inputs(X)
    with pytest.raises(InputError, match=r"fit over Dask arrays does not take \['sample_weight'\] yet"):
        chunked_fit.fit(model, Xd, y, batch_size=N, sample_weight=np.ones(N))
    with pytest.raises(InputError, match=r"evaluate over Dask arrays does not take \['class_weight'\] yet"):
        chunked.evaluate(model, Xd, y, class_weight={0: 2.0})
    assert chunked.evaluate(model, Xd, y, batch_size=7, verbose=0) == model.evaluate(Xd, y, verbose=0)
