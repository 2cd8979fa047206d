"""The training step's planned pass (anynet.plan) against the general graph walk, bit for bit.

``value_and_grad`` runs from a :class:`~anynet.plan.Plan` made once per context, and on
NumPy Dense layers write their gradients straight into the flat gradient buffer. Neither
may change a single bit: here each result is compared exactly with the general walk
(:func:`anynet.passes.forward` and :func:`~anynet.passes.backward`, with the gradient
gathered spec by spec as the first graph release did), on every backend, with and without
the training loop's buffers; and ``fit`` with a hand-driven loop over that walk.
"""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet import passes
from anynet.backend import Placement
from anynet.passes import Result

from ._helpers import get

L = an.layers


def _reference(model, theta, X, y, ctx, sample_weight=None) -> Result:
    """Return value_and_grad by the general walk: the id-keyed forward and backward of anynet.passes."""
    xp, graph, heads = ctx.xp, model._graph, model.heads
    X = tuple(xp.astype(x, theta.dtype) if x.dtype != theta.dtype else x for x in X)
    raw = frozenset(id(t.node) for t, h in zip(graph.outputs, heads)
                    if h.fused and not graph.consumers.get(id(t)) and id(t.node.output) not in
                    {id(i) for i in graph.inputs})
    values, tape, views = passes.forward(model, theta, X, ctx, raw)
    total, dOut, Ys, Ts, per = None, {}, [], [], []
    weights = sample_weight if sample_weight is not None else (None,) * len(heads)
    for t, head, yk, wk in zip(graph.outputs, heads, y, weights):
        H = values[id(t)]
        T = head.loss.targets(yk, H.shape[head.loss.axis] if H.ndim > 1 else 1, xp, theta.dtype)
        if wk is not None and wk.dtype != theta.dtype:
            wk = xp.astype(wk, theta.dtype)
        kw = {} if wk is None else {"sample_weight": wk}
        if id(t.node) in raw:
            loss, dH, Y = head.loss.logits_value_and_grad(H, T, xp, kernels=ctx.kernels, **kw)
        else:
            loss, dH = head.loss.value_and_grad(H, T, xp, **kw)
            Y = H
        w = head.weight
        total = (loss if w == 1.0 else loss * w) if total is None else total + (loss if w == 1.0 else loss * w)
        dOut[id(t)] = dH if w == 1.0 else dH * w
        Ys.append(Y), Ts.append(T), per.append(loss)
    specs = model._own_specs()
    for s in specs:
        if s.regularizer is not None:
            total = total + s.regularizer.penalty(views[s.layer][s.name], xp)
    passes.backward(graph, tape, dOut)
    by_layer: dict = {}
    for node, _, P in tape:
        if P.grads:
            by_layer.setdefault(model._index[id(node.layer)], []).append(P)
    own = {id(s) for s in specs}
    parts = []
    for s in model.layout:
        got = [P.grads[s.name] for P in by_layer.get(s.layer, ()) if s.name in P.grads] if id(s) in own else []
        if not got:
            G = xp.zeros(s.shape, dtype=theta.dtype, device=theta.device)
        else:
            G = got[0]
            for g in got[1:]:
                G = G + g
        if s.regularizer is not None and id(s) in own:
            G = G + s.regularizer.gradient(views[s.layer][s.name], xp)
        parts.append(xp.reshape(G, (-1,)))
    return Result(total, xp.concat(parts), Ys, Ts, per)


def _data(n=23, seed=0):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, 5)), rng.normal(size=(n, 3))
    digit = (A[:, 0] > 0).astype(int) + (B[:, 0] > 0).astype(int)
    odd = (A[:, 1] * B[:, 1] > 0).astype(np.float64)
    return A, B, digit, odd


def _graph(backend: Placement, dtype: str):
    """Two inputs, a shared (regularized) layer, a merge, two heads with loss weights."""
    a, b = an.Input((5,), name="a"), an.Input((3,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared", kernel_regularizer=an.regularizers.L2(0.01))
    ha = shared(L.Dense(4, activation="relu", name="pa")(a))
    hb = shared(L.Dense(4, activation="sigmoid", name="pb", bias_regularizer="l1")(b))
    h = L.Concatenate(name="cat")([L.Add(name="merge")([ha, hb]), ha])
    digit = L.Dense(3, activation="softmax", name="digit")(h)
    odd = L.Dense(1, activation="sigmoid", name="odd")(h)
    m = an.Model([a, b], [digit, odd], seed=3, dtype=dtype, backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=an.optimizers.Adam(0.01), loss={"digit": "sparse_categorical_crossentropy",
                                                        "odd": "binary_crossentropy"},
              loss_weights={"digit": 1.0, "odd": 0.5}, metrics={"digit": ["accuracy"]})
    return m


def _chain(backend: Placement, dtype: str, metrics=None, optimizer=None):
    m = an.Sequential([L.Dense(6, activation="relu"), L.Dense(3, activation="softmax")], seed=1, dtype=dtype,
                      backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=optimizer or an.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=metrics)
    return m


def _same(backend, a, b, what):
    np.testing.assert_array_equal(get(backend, a), get(backend, b), err_msg=what)


def _compare(backend, model, data, ctx):
    got = model.value_and_grad(model.params, data.X, data.y, ctx, sample_weight=data.w)
    want = _reference(model, model.params, data.X, data.y, model.context(training=True), sample_weight=data.w)
    _same(backend, got.loss, want.loss, "loss")
    _same(backend, got.grad, want.grad, "gradient")
    for k in range(len(want.Y)):
        _same(backend, got.Y[k], want.Y[k], f"output {k}")
        _same(backend, got.losses[k], want.losses[k], f"loss of output {k}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("buffers", [False, True], ids=["plain", "training-buffers"])
@pytest.mark.parametrize("kind", ["chain", "graph", "graph-weighted", "shared-vector"])
def test_planned_pass_equals_the_general_walk_bit_for_bit(backend: Placement, dtype, buffers, kind):
    A, B, digit, odd = _data()
    if kind == "chain":
        model = _chain(backend, dtype)
        data = model.prepare(A, digit)
    else:
        model = _graph(backend, dtype)
        w = {"digit": np.linspace(0.5, 2, len(A)), "odd": np.linspace(2, 0.5, len(A))} if kind == "graph-weighted" \
            else None
        data = model.prepare([A, B], [digit, odd], sample_weight=w)
        if kind == "shared-vector":  # a model over part of the graph, sharing the vector
            source = model  # kept alive: the new model shares its vector
            model = an.Model(source.inputs, [source.get_layer("digit").output], seed=5,
                             backend=backend.backend.name, device=backend.device)
            model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
            data = model.prepare([A, B], digit)
            assert model._source is not None and len(model._own_specs()) < len(model.layout)
    ctx = model.context(training=True)
    if buffers:
        ctx.scratch = {}
    for _ in range(2):  # the second pass reuses the context's plan (and buffers)
        _compare(backend, model, data, ctx)
    model.compile(optimizer="sgd", loss=model.heads[0].loss if len(model.heads) == 1 else
                  [h.loss for h in model.heads])
    _compare(backend, model, data, ctx)  # compiled anew: the plan is made again


@pytest.mark.parametrize("metrics", [None, ["accuracy"]])
@pytest.mark.parametrize("optimizer", ["sgd", "adam-clipnorm"])
def test_fit_equals_a_loop_over_the_general_walk_bit_for_bit(backend: Placement, metrics, optimizer):
    A, B, digit, odd = _data(n=37)
    opt = (lambda: an.optimizers.SGD(0.1, momentum=0.9)) if optimizer == "sgd" else (
        lambda: an.optimizers.Adam(0.01, clipnorm=0.5))
    model, ref = (_chain(backend, "float32", metrics, opt()) for _ in range(2))
    history = model.fit(A, digit, epochs=2, batch_size=8, shuffle=False, verbose=0)
    data = ref.prepare(A, digit)
    ref.opt_state = ref.optimizer.init(ref.params, ref.placement.xp)
    xp, losses = ref.placement.xp, []
    for _ in range(2):
        total = 0.0  # summed on the device as fit sums it
        for a in range(0, data.n, 8):
            part = data.rows(a, min(a + 8, data.n))
            r = _reference(ref, ref.params, part.X, part.y, ref.context(training=True))
            ref.optimizer.update(ref.params, r.grad, ref.opt_state, xp, kernels=ref.placement.backend.kernels,
                                 segments=ref.layout.segments())
            total = total + r.loss * part.n
        losses.append(float(get(backend, xp.asarray(total, dtype=xp.float32))) / data.n)
    _same(backend, model.params, ref.params, "weights after two epochs")
    assert history.history["loss"] == losses
