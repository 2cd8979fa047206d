"""Each fused kernel an adapter offers, checked against anynet's portable code.

The portable code is the reference: a kernel must give what it gives (within the float
tolerance of the same computation) and leave it to the portable code where it declines.
A backend without a given kernel skips that case, saying that its portable code runs (the
rest of the suite covers that path). The convolution and pooling kernels are checked the
same way in test_conv.py (``test_fast_kernels_match_the_portable_code`` over its
``WINDOW_OPS``); the elementwise activation kernels ("sigmoid") in test_adapter.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import anynet as an
from anynet import activations, losses
from anynet.backend import Placement
from anynet.layers import Context
from anynet.optimizers import SGD, Adam, AdamW, RMSprop

from ._helpers import TOL, assert_close, get, put

# Every kernel name some adapter may offer and checked here; the elementwise activation
# kernels ("sigmoid") are checked in test_adapter.py.
CHECKED = {"sgd_update", "rmsprop_update", "adam_update", "bias_activation", "relu_backward",
           "softmax_crossentropy", "flat_concat", "take_rows", "grad_buffer", "matmul_into", "sum_rows_into"}
# Checked against the portable window code in test_conv.py, for every name in its WINDOW_OPS
# (read from its source here: importing it would skip this file where torch is missing).
CHECKED_IN_TEST_CONV = {"conv2d", "max_pool2d", "sum_pool2d"}


def _test_conv_window_ops() -> set[str]:
    tree = ast.parse(Path(__file__).with_name("test_conv.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "WINDOW_OPS" for t in node.targets):
            return {op[0] for op in ast.literal_eval(node.value)}
    raise AssertionError("test_conv.py has no WINDOW_OPS list")


def _kernel(backend: Placement, name: str):
    fn = backend.backend.kernels.get(name)
    if fn is None and backend.backend.name == "numpy":
        from anynet.backends import _numpy_kernels

        fn = getattr(_numpy_kernels, name)
    if fn is None:
        pytest.skip(f"{backend.backend.name} offers no {name!r} kernel; its portable code runs instead")
    return fn


def _close(backend, actual, expected, dtype, what):
    np.testing.assert_allclose(get(backend, actual).astype(np.float64), get(backend, expected).astype(np.float64),
                               **TOL[dtype], err_msg=what)


def test_every_kernel_is_checked(backend: Placement):
    """No adapter offers a kernel that no conformance test compares with the portable code."""
    assert CHECKED_IN_TEST_CONV <= _test_conv_window_ops(), "test_conv.py no longer checks every conv kernel"
    unchecked = [n for n in backend.backend.kernels
                 if n not in CHECKED | CHECKED_IN_TEST_CONV and not hasattr(activations, f"_{n}_portable")]
    assert not unchecked, f"{backend.backend.name} offers kernels without a conformance check: {unchecked}"


# -- optimizer updates ---------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": (lambda: SGD(0.1), "sgd_update"),
    "sgd-momentum": (lambda: SGD(0.1, momentum=0.9), "sgd_update"),
    "sgd-nesterov": (lambda: SGD(0.1, momentum=0.9, nesterov=True), "sgd_update"),
    "rmsprop": (lambda: RMSprop(0.01, rho=0.8, epsilon=1e-3), "rmsprop_update"),
    "adam": (lambda: Adam(0.01), "adam_update"),
    "adamw": (lambda: AdamW(0.01, weight_decay=0.1), "adam_update"),
}
# Optimizers whose kernel is called after clipping and decay, or not at all (the kernel
# declines RMSprop's momentum/centered and AMSGrad): update() with the adapter's kernels
# must still give the portable trajectory.
THROUGH_UPDATE = {
    **OPTIMIZERS,
    "sgd-clipvalue-decay": (lambda: SGD(0.1, momentum=0.5, clipvalue=0.5, weight_decay=0.01), "sgd_update"),
    "adam-global-clipnorm": (lambda: Adam(0.01, global_clipnorm=1.0), "adam_update"),
    "rmsprop-momentum": (lambda: RMSprop(0.01, momentum=0.9), "rmsprop_update"),
    "rmsprop-centered": (lambda: RMSprop(0.01, centered=True), "rmsprop_update"),
    "adam-amsgrad": (lambda: Adam(0.01, amsgrad=True), "adam_update"),
}


def _steps(backend, dtype, n=257, steps=4):
    rng = np.random.default_rng(0)
    return rng.normal(size=n).astype(dtype), [rng.normal(size=n).astype(dtype) for _ in range(steps)]


def _trajectory(backend, opt, theta0, grads, dtype, kernel=None):
    xp = backend.xp
    theta = put(backend, theta0.copy())  # a NumPy backend would otherwise update theta0 itself
    state = opt.init(theta, xp)
    out = []
    for g in grads:
        gb = put(backend, g)
        if kernel is None:
            opt._update(theta, gb, state, xp, **opt._hyper(state["iterations"]))  # the portable step alone
        else:  # the kernel called the way Optimizer.update calls it
            kernel(theta, gb, state, **opt._hyper(state["iterations"]))
        state["iterations"] += 1
        out.append((get(backend, theta).copy(), {k: get(backend, v).copy() for k, v in state.items()
                                                 if k != "iterations"}))
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(OPTIMIZERS))
def test_optimizer_kernel_matches_the_portable_update(backend: Placement, case, dtype):
    make, name = OPTIMIZERS[case]
    kernel = _kernel(backend, name)
    theta0, grads = _steps(backend, dtype)
    portable = _trajectory(backend, make(), theta0, grads, dtype)
    fused = _trajectory(backend, make(), theta0, grads, dtype, kernel)
    for k, ((tp, sp), (tf, sf)) in enumerate(zip(portable, fused)):
        np.testing.assert_allclose(tf, tp, **TOL[dtype], err_msg=f"{case} theta, step {k + 1}")
        assert sf.keys() == sp.keys()
        for slot in sp:
            np.testing.assert_allclose(sf[slot], sp[slot], **TOL[dtype], err_msg=f"{case} {slot}, step {k + 1}")


@pytest.mark.parametrize("case", list(THROUGH_UPDATE))
def test_optimizer_update_through_the_adapters_kernels(backend: Placement, case):
    """Optimizer.update with the adapter's own kernels gives the portable trajectory."""
    make, name = THROUGH_UPDATE[case]
    if name not in backend.backend.kernels:
        pytest.skip(f"{backend.backend.name} offers no {name!r} kernel; its portable code runs instead")
    xp, dtype = backend.xp, "float64"
    theta0, grads = _steps(backend, dtype)
    a, b = put(backend, theta0.copy()), put(backend, theta0.copy())
    opt_a, opt_b = make(), make()
    sa, sb = opt_a.init(a, xp), opt_b.init(b, xp)
    for k, g in enumerate(grads):
        opt_a.update(a, put(backend, g), sa, xp)
        opt_b.update(b, put(backend, g), sb, xp, kernels=backend.backend.kernels)
        _close(backend, b, a, dtype, f"{case} step {k + 1}")
        for slot in sa:
            if slot != "iterations":
                _close(backend, sb[slot], sa[slot], dtype, f"{case} {slot}, step {k + 1}")


# -- layers, activations, losses ----------------------------------------------------------

ACTIVATIONS = {name: (lambda name=name: activations.get(name)) for name in
               ("relu", "sigmoid", "tanh", "linear", "leaky_relu", "softmax", "elu")}
ACTIVATIONS["relu6"] = lambda: activations.ReLU(max_value=6.0)          # Keras' relu arguments: declined
ACTIVATIONS["relu-threshold"] = lambda: activations.ReLU(threshold=0.5)
IN_PLACE = ("relu", "sigmoid", "tanh", "linear")  # what the NumPy kernel takes on


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", list(ACTIVATIONS))
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_bias_activation_matches_the_portable_forward(backend: Placement, act, bias, dtype):
    kernel = _kernel(backend, "bias_activation")
    xp, f = backend.xp, ACTIVATIONS[act]()
    rng = np.random.default_rng(1)
    Z0, b0 = rng.normal(scale=4, size=(9, 5)), rng.normal(size=5)
    Z, b = put(backend, Z0, dtype), put(backend, b0, dtype)
    expected = f.forward(Z + b if bias else put(backend, Z0, dtype), xp)
    Y = kernel(Z, b if bias else None, f)
    if Y is None:  # declined: the layer runs the portable code on an untouched Z
        assert act not in IN_PLACE or backend.backend.name != "numpy", f"the NumPy kernel declined {act}"
        np.testing.assert_array_equal(get(backend, Z), Z0.astype(dtype))
        return
    _close(backend, Y, expected, dtype, act)
    # The backprop then sees Y in place of Z; for these activations it gives the same dZ.
    dY = put(backend, rng.normal(size=(9, 5)), dtype)
    Zp = put(backend, Z0 + (b0 if bias else 0), dtype)
    _close(backend, f.backward(dY, Y, Y, xp), f.backward(dY, Zp, expected, xp), dtype, f"{act} backward")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_relu_backward_matches_the_portable_code(backend: Placement, dtype):
    kernel = _kernel(backend, "relu_backward")
    rng = np.random.default_rng(2)
    Z0 = rng.normal(size=(7, 6))
    Z0[0, :3] = 0.0  # the mask is Z > 0: zero passes nothing
    Z, dY = put(backend, Z0, dtype), put(backend, rng.normal(size=(7, 6)), dtype)
    dZ = kernel(dY, Z)
    assert dZ.dtype == dY.dtype
    expected = dY * backend.xp.astype(Z > 0, Z.dtype)  # the plain relu's derivative, written out
    _close(backend, dZ, expected, dtype, "relu backward")
    # ReLU.backward uses it only in relu's plain form; relu6 keeps its own mask.
    for f in (activations.ReLU(), activations.ReLU(max_value=0.5)):
        _close(backend, f.backward(dY, Z, None, backend.xp, backend.backend.kernels),
               f.backward(dY, Z, None, backend.xp), dtype, repr(f))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("targets", ["one-hot", "soft"])
def test_softmax_crossentropy_matches_the_portable_loss(backend: Placement, targets, dtype):
    kernel = _kernel(backend, "softmax_crossentropy")
    xp = backend.xp
    rng = np.random.default_rng(3)
    Z0 = rng.normal(scale=30, size=(8, 5))  # large logits: the shift must keep exp finite
    if targets == "soft":
        T0 = rng.random((8, 5))
        T0 /= T0.sum(axis=1, keepdims=True)
    else:
        T0 = np.eye(5)[rng.integers(0, 5, 8)]
    Z, T = put(backend, Z0, dtype), put(backend, T0, dtype)
    ref_loss, ref_dZ, ref_P = losses.CategoricalCrossentropy().logits_value_and_grad(Z, T, xp)
    value, dZ, P = kernel(Z, T, 8.0)  # Keras' default: the sum over classes, the mean over the 8 rows
    np.testing.assert_array_equal(get(backend, Z), Z0.astype(dtype))  # the logits are left alone
    assert np.asarray(get(backend, value)).dtype == np.dtype(dtype)
    _close(backend, value, ref_loss, dtype, "loss")
    _close(backend, dZ, ref_dZ, dtype, "dZ")
    _close(backend, P, ref_P, dtype, "P")


# (loss, sample_weight, whether the kernel applies): the loss's hook takes the kernel only
# where its value and gradient are the plain sum of the terms over a divisor.
LOSS_CASES = {
    "cce": (lambda: losses.CategoricalCrossentropy(), None, True),
    "cce-sum": (lambda: losses.CategoricalCrossentropy(reduction="sum"), None, True),
    "cce-output-mean": (lambda: losses.CategoricalCrossentropy(output_reduction="mean"), None, True),
    "cce-smoothing": (lambda: losses.CategoricalCrossentropy(label_smoothing=0.1), None, True),
    "cce-mean-with-weights": (lambda: losses.CategoricalCrossentropy(reduction="mean_with_sample_weight"), None,
                              True),
    "sparse": (lambda: losses.SparseCategoricalCrossentropy(), None, True),
    "sparse-ignore-class": (lambda: losses.SparseCategoricalCrossentropy(ignore_class=2), None, False),
    "cce-sample-weight": (lambda: losses.CategoricalCrossentropy(), np.linspace(0.5, 2.0, 8), False),
    "cce-axis-0": (lambda: losses.CategoricalCrossentropy(axis=0), None, False),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_loss_hook_gives_the_portable_loss(backend: Placement, case, dtype):
    """logits_value_and_grad with the adapter's kernels equals it without, and uses the kernel where it may."""
    xp, (make, weights, applies) = backend.xp, LOSS_CASES[case]
    loss = make()
    rng = np.random.default_rng(6)
    Z = put(backend, rng.normal(scale=3, size=(8, 5)), dtype)
    labels = rng.integers(0, 5, 8)
    T = loss.targets(put(backend, labels), 5, xp, Z.dtype) if loss.sparse else put(backend, np.eye(5)[labels], dtype)
    sw = None if weights is None else put(backend, weights, dtype)
    calls: list[int] = []
    fn = backend.backend.kernels.get("softmax_crossentropy")
    spy = {} if fn is None else {"softmax_crossentropy": lambda *a: calls.append(1) or fn(*a)}
    expected = loss.logits_value_and_grad(Z, T, xp, sw)
    got = loss.logits_value_and_grad(Z, T, xp, sw, kernels=spy)
    assert bool(calls) == (applies and fn is not None), f"kernel used: {bool(calls)}"
    for name, a, e in zip(("loss", "dZ", "P"), got, expected):
        _close(backend, a, e, dtype, name)


# -- data movement -------------------------------------------------------------------------

def test_flat_concat_matches_concat_and_reuses_its_buffer(backend: Placement):
    kernel = _kernel(backend, "flat_concat")
    xp = backend.xp
    parts = [put(backend, np.arange(n, dtype=np.float32) + n) for n in (3, 5, 1)]
    expected = get(backend, xp.concat(parts))
    np.testing.assert_array_equal(get(backend, kernel(parts)), expected)
    scratch: dict = {}
    first = kernel(parts, scratch)
    np.testing.assert_array_equal(get(backend, first), expected)
    again = kernel([p * 2 for p in parts], scratch)
    np.testing.assert_array_equal(get(backend, again), expected * 2)
    assert again is first  # the same buffer, batch after batch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradients_written_into_the_buffer_equal_the_portable_ones_bit_for_bit(backend: Placement, dtype):
    buffer, into, rows = (_kernel(backend, n) for n in ("grad_buffer", "matmul_into", "sum_rows_into"))
    xp = backend.xp
    rng = np.random.default_rng(5)
    X, dZ = (put(backend, rng.normal(size=s).astype(dtype)) for s in ((9, 6), (9, 4)))
    assert buffer(30, getattr(xp, dtype), None) is None  # no scratch: nothing kept
    scratch: dict = {}
    buf = buffer(30, getattr(xp, dtype), scratch)
    assert buffer(30, getattr(xp, dtype), scratch) is buf
    gW, gb = xp.reshape(buf[:24], (6, 4)), buf[24:28]
    assert into(X.T, dZ, gW) is gW and rows(dZ, gb) is gb
    np.testing.assert_array_equal(get(backend, gW), get(backend, xp.matmul(X.T, dZ)))
    np.testing.assert_array_equal(get(backend, gb), get(backend, xp.sum(dZ, axis=0)))
    np.testing.assert_array_equal(get(backend, buf[:28]), np.concatenate([get(backend, xp.matmul(X.T, dZ)).ravel(),
                                                                           get(backend, xp.sum(dZ, axis=0))]))
    # flat_concat gathers into the same buffer
    assert _kernel(backend, "flat_concat")([xp.reshape(gW, (-1,)), gb, buf[28:]], scratch) is buf


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_take_rows_matches_take_and_reuses_its_buffer(backend: Placement, dtype):
    kernel = _kernel(backend, "take_rows")
    xp = backend.xp
    rng = np.random.default_rng(4)
    A = put(backend, rng.integers(0, 100, size=(20, 3, 2)).astype(dtype))
    idx = put(backend, rng.permutation(20)[:7].astype(np.int64))
    expected = get(backend, xp.take(A, idx, axis=0))
    np.testing.assert_array_equal(get(backend, kernel(A, idx)), expected)
    scratch: dict = {}
    first = kernel(A, idx, scratch, "X")
    np.testing.assert_array_equal(get(backend, first), expected)
    idx2 = put(backend, rng.permutation(20)[:7].astype(np.int64))
    second = kernel(A, idx2, scratch, "X")
    assert second is first
    np.testing.assert_array_equal(get(backend, second), get(backend, xp.take(A, idx2, axis=0)))


# -- all together: one training step's value and gradient, and whole fits -----------------

def _mlp(backend, hidden, dtype, optimizer="sgd"):
    model = an.Sequential([an.layers.Dense(7, activation=hidden), an.layers.Dense(4, activation="softmax")],
                          seed=0, dtype=dtype, backend=backend.backend.name, device=backend.device)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("hidden", ["relu", "sigmoid", "tanh"])
def test_value_and_grad_with_kernels_equals_the_portable_pass(backend: Placement, hidden, dtype):
    """A model's loss, gradient and outputs are the same with the adapter's kernels and without."""
    if not backend.backend.kernels:
        pytest.skip(f"{backend.backend.name} offers no kernels; its portable code runs instead")
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(16, 6)), rng.integers(0, 4, 16)
    model = _mlp(backend, hidden, dtype)
    data = model.prepare(X, y)
    xp = backend.xp
    plain = Context(xp, True, model.rng, {}, getattr(xp, dtype))
    fast = model.context(training=True)
    fast.scratch = {}
    expected = model.value_and_grad(model.params, data.X, data.y, plain)
    for _ in range(2):  # the second pass reuses the kept buffers
        got = model.value_and_grad(model.params, data.X, data.y, fast)
        for name, a, e in (("loss", got.loss, expected.loss), ("gradient", got.grad, expected.grad),
                           ("outputs", got.Y[0], expected.Y[0])):
            assert_close(backend, a, get(backend, e), dtype, err_msg=name)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_fit_with_kernels_equals_fit_without(backend: Placement, optimizer, monkeypatch):
    """Shuffled epochs with a short last batch (new buffer sizes) train to the same weights and History."""
    if not backend.backend.kernels:
        pytest.skip(f"{backend.backend.name} offers no kernels; its portable code runs instead")
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(50, 6)), rng.integers(0, 4, 50)
    fast = _mlp(backend, "relu", "float64", optimizer)
    h_fast = fast.fit(X, y, batch_size=16, epochs=2, verbose=0)
    monkeypatch.setattr(type(backend.backend), "kernels", {})
    plain = _mlp(backend, "relu", "float64", optimizer)
    h_plain = plain.fit(X, y, batch_size=16, epochs=2, verbose=0)
    assert not plain.context().kernels
    assert_close(backend, fast.params, get(backend, plain.params), "float64", err_msg="weights")
    for k in h_plain.history:
        np.testing.assert_allclose(h_fast.history[k], h_plain.history[k], **TOL["float64"], err_msg=k)
