"""Convolution and pooling on every backend, against torch's own float64 operators.

Each layer runs forward and backward twice per backend: through the adapter's fast
kernels (where it has them) and through the portable im2col code (kernels switched
off). Both must match torch.nn.functional in float64 (with the padding Keras uses,
written out here with F.pad) to 1e-10, and each other.
"""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.layers import Context
from anynet.params import Layout, Slots

from ._helpers import get, put, same_place

torch = pytest.importorskip("torch")
F = torch.nn.functional
L = an.layers
TOL = {"rtol": 1e-10, "atol": 1e-10}
PATHS = ["kernels", "portable"]


def _same_pads(size, k, s, d=1):
    """TensorFlow's 'same' padding along one axis, written out: (before, after)."""
    out = -(-size // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def _torch_pad(x, pads, value=0.0):
    """Pad an NCHW tensor by ((top, bottom), (left, right))."""
    (t, b), (l, r) = pads
    return F.pad(x, (l, r, t, b), value=value)


def _pads(shape, k, s, padding, d=(1, 1)):
    if padding == "valid":
        return ((0, 0), (0, 0))
    return (_same_pads(shape[0], k[0], s[0], d[0]), _same_pads(shape[1], k[1], s[1], d[1]))


def _run(backend, layer, X, params, path, dY_seed=7, training=False, rng=None):
    """Build ``layer`` on X's samples, run forward and backward; return host Y, dX, grads and dY."""
    layout = Layout()
    layer.build(0, X.shape[1:], layout)
    P = Slots()
    for s in layout:
        P.values[s.name] = put(backend, params[s.name])
    kernels = dict(backend.backend.kernels) if path == "kernels" else {}
    ctx = Context(backend.xp, training=training, rng=rng, kernels=kernels, dtype=backend.xp.float64)
    Xd = put(backend, X)
    Y, backprop = layer.forward(P, Xd, ctx)
    same_place(backend, Y, "float64")
    dY = np.random.default_rng(dY_seed).normal(size=tuple(Y.shape))
    dX = backprop(put(backend, dY))
    same_place(backend, dX, "float64")
    return get(backend, Y), get(backend, dX), {k: get(backend, v) for k, v in P.grads.items()}, dY


def _nchw(X):
    return torch.tensor(X).permute(0, 3, 1, 2).requires_grad_(True)


CONV_CASES = [(k, s, padding, cin, cout) for k in (1, 3, (2, 3)) for s in (1, 2) for padding in ("valid", "same")
              for cin, cout in ((1, 2), (3, 4))]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("k, s, padding, cin, cout", CONV_CASES)
def test_conv2d_matches_torch(backend, path, k, s, padding, cin, cout):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 7, 8, cin))
    kk = (k, k) if isinstance(k, int) else k
    params = {"W": rng.normal(size=(*kk, cin, cout)), "b": rng.normal(size=(cout,))}
    layer = L.Conv2D(cout, k, strides=s, padding=padding)
    Y, dX, grads, dY = _run(backend, layer, X, params, path)

    Xt = _nchw(X)
    Wt = torch.tensor(params["W"]).permute(3, 2, 0, 1).requires_grad_(True)
    bt = torch.tensor(params["b"]).requires_grad_(True)
    Yt = F.conv2d(_torch_pad(Xt, _pads(X.shape[1:3], kk, (s, s), padding)), Wt, bt, stride=s)
    Yt.backward(torch.tensor(dY).permute(0, 3, 1, 2))
    np.testing.assert_allclose(Y, Yt.detach().permute(0, 2, 3, 1).numpy(), **TOL)
    np.testing.assert_allclose(dX, Xt.grad.permute(0, 2, 3, 1).numpy(), **TOL)
    np.testing.assert_allclose(grads["W"], Wt.grad.permute(2, 3, 1, 0).numpy(), **TOL)
    np.testing.assert_allclose(grads["b"], bt.grad.numpy(), **TOL)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("padding, s", [("valid", 1), ("same", 1), ("valid", 2)])
def test_dilated_conv2d_matches_torch(backend, path, padding, s):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 9, 10, 2))
    params = {"W": rng.normal(size=(3, 2, 2, 3)), "b": rng.normal(size=(3,))}
    layer = L.Conv2D(3, (3, 2), strides=s, padding=padding, dilation_rate=(2, 3), activation="tanh")
    Y, dX, grads, dY = _run(backend, layer, X, params, path)
    Xt = _nchw(X)
    Wt = torch.tensor(params["W"]).permute(3, 2, 0, 1).requires_grad_(True)
    Yt = torch.tanh(F.conv2d(_torch_pad(Xt, _pads(X.shape[1:3], (3, 2), (s, s), padding, (2, 3))), Wt,
                             torch.tensor(params["b"]), stride=s, dilation=(2, 3)))
    Yt.backward(torch.tensor(dY).permute(0, 3, 1, 2))
    np.testing.assert_allclose(Y, Yt.detach().permute(0, 2, 3, 1).numpy(), **TOL)
    np.testing.assert_allclose(dX, Xt.grad.permute(0, 2, 3, 1).numpy(), **TOL)
    np.testing.assert_allclose(grads["W"], Wt.grad.permute(2, 3, 1, 0).numpy(), **TOL)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("k, s, padding", [(3, 1, "valid"), (3, 2, "same"), (2, 1, "causal"), (4, 3, "same")])
def test_conv1d_matches_torch(backend, path, k, s, padding):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3, 11, 2))
    params = {"W": rng.normal(size=(k, 2, 5)), "b": rng.normal(size=(5,))}
    Y, dX, grads, dY = _run(backend, L.Conv1D(5, k, strides=s, padding=padding), X, params, path)
    Xt = torch.tensor(X).permute(0, 2, 1).requires_grad_(True)
    Wt = torch.tensor(params["W"]).permute(2, 1, 0).requires_grad_(True)
    pads = {"valid": (0, 0), "causal": (k - 1, 0), "same": _same_pads(11, k, s)}[padding]
    Yt = F.conv1d(F.pad(Xt, pads), Wt, torch.tensor(params["b"]), stride=s)
    Yt.backward(torch.tensor(dY).permute(0, 2, 1))
    np.testing.assert_allclose(Y, Yt.detach().permute(0, 2, 1).numpy(), **TOL)
    np.testing.assert_allclose(dX, Xt.grad.permute(0, 2, 1).numpy(), **TOL)
    np.testing.assert_allclose(grads["W"], Wt.grad.permute(2, 1, 0).numpy(), **TOL)


POOL_CASES = [(p, s, padding, c) for p in (2, 3, (2, 3)) for s in (None, 1, 2) for padding in ("valid", "same")
              for c in (1, 3)]


def _pool_reference(kind, X, p, s, padding):
    """Torch float64 pooling with Keras' padding rules; returns (Y NHWC, X tensor with grad)."""
    pp = (p, p) if isinstance(p, int) else p
    ss = pp if s is None else ((s, s) if isinstance(s, int) else s)
    pads = _pads(X.shape[1:3], pp, ss, padding)
    Xt = _nchw(X)
    if kind == "max":
        Yt = F.max_pool2d(_torch_pad(Xt, pads, -np.inf), pp, ss)
    elif kind == "avg":  # the count leaves padding out, as Keras does
        total = F.avg_pool2d(_torch_pad(Xt, pads), pp, ss, divisor_override=1)
        count = F.avg_pool2d(_torch_pad(torch.ones_like(Xt), pads), pp, ss, divisor_override=1)
        Yt = total / count
    else:
        Yt = F.lp_pool2d(_torch_pad(Xt, pads), 2.0, pp, ss)
    return Yt, Xt


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind, cls", [("max", L.MaxPooling2D), ("avg", L.AveragePooling2D), ("l2", L.L2Pooling2D)])
@pytest.mark.parametrize("p, s, padding, c", POOL_CASES)
def test_pooling2d_matches_torch(backend, path, kind, cls, p, s, padding, c):
    X = np.random.default_rng(3).normal(size=(2, 7, 8, c))
    Y, dX, _, dY = _run(backend, cls(p, strides=s, padding=padding), X, {}, path)
    Yt, Xt = _pool_reference(kind, X, p, s, padding)
    Yt.backward(torch.tensor(dY).permute(0, 3, 1, 2))
    np.testing.assert_allclose(Y, Yt.detach().permute(0, 2, 3, 1).numpy(), **TOL)
    np.testing.assert_allclose(dX, Xt.grad.permute(0, 2, 3, 1).numpy(), **TOL)


@pytest.mark.parametrize("path", PATHS)
def test_lp_pooling_p3_matches_torch_on_non_negative_inputs(backend, path):
    X = np.abs(np.random.default_rng(4).normal(size=(2, 6, 6, 2))) + 0.1
    Y, dX, _, dY = _run(backend, L.LPPooling2D(3, 2), X, {}, path)
    Xt = _nchw(X)
    Yt = F.lp_pool2d(Xt, 3.0, 2)
    Yt.backward(torch.tensor(dY).permute(0, 3, 1, 2))
    np.testing.assert_allclose(Y, Yt.detach().permute(0, 2, 3, 1).numpy(), **TOL)
    np.testing.assert_allclose(dX, Xt.grad.permute(0, 2, 3, 1).numpy(), **TOL)


@pytest.mark.parametrize("path", PATHS)
def test_l2_pooling_of_a_zero_window_has_zero_gradient(backend, path):
    X = np.zeros((1, 4, 4, 1))
    X[0, 0, 0, 0] = 3.0
    Y, dX, _, _ = _run(backend, L.L2Pooling2D(2), X, {}, path)
    assert Y[0, 0, 0, 0] == 3.0 and np.all(Y.reshape(-1)[1:] == 0)
    assert np.all(np.isfinite(dX)) and np.all(dX.reshape(-1)[1:] == 0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("p, s", [(2, 2), (3, 1), (2, 1)])
def test_max_pooling_sends_each_gradient_to_the_first_maximum(backend, path, p, s):
    """Ties (ReLU zeros, saturated pixels) are broken row-major, the same on every backend."""
    X = np.random.default_rng(5).integers(0, 2, size=(2, 6, 7, 3)).astype(np.float64)
    Y, dX, _, dY = _run(backend, L.MaxPooling2D(p, strides=s), X, {}, path)
    expected = np.zeros_like(X)  # the rule written out in NumPy
    for n in range(X.shape[0]):
        for i in range(Y.shape[1]):
            for j in range(Y.shape[2]):
                for c in range(X.shape[3]):
                    win = X[n, i * s:i * s + p, j * s:j * s + p, c]
                    a, b = np.unravel_index(np.argmax(win), win.shape)
                    expected[n, i * s + a, j * s + b, c] += dY[n, i, j, c]
    np.testing.assert_allclose(dX, expected, **TOL)


@pytest.mark.parametrize("cls, reduce", [(L.GlobalAveragePooling2D, "mean"), (L.GlobalMaxPooling2D, "amax"),
                                         (L.GlobalAveragePooling1D, "mean"), (L.GlobalMaxPooling1D, "amax")])
def test_global_pooling_matches_torch(backend, cls, reduce):
    X = np.random.default_rng(6).normal(size=(3, 5, 4, 2) if cls.rank == 2 else (3, 6, 2))
    Y, dX, _, dY = _run(backend, cls(), X, {}, "kernels")
    Xt = torch.tensor(X).requires_grad_(True)
    dims = tuple(range(1, X.ndim - 1))
    Yt = getattr(torch, reduce)(Xt, dim=dims)
    Yt.backward(torch.tensor(dY))
    np.testing.assert_allclose(Y, Yt.detach().numpy(), **TOL)
    np.testing.assert_allclose(dX, Xt.grad.numpy(), **TOL)


@pytest.mark.parametrize("cls, kind", [(L.MaxPooling1D, "max"), (L.AveragePooling1D, "avg")])
@pytest.mark.parametrize("p, s, padding", [(2, None, "valid"), (3, 1, "same"), (3, 2, "same")])
def test_pooling1d_matches_torch(backend, cls, kind, p, s, padding):
    X = np.random.default_rng(8).normal(size=(2, 9, 3))
    Y, dX, _, dY = _run(backend, cls(p, strides=s, padding=padding), X, {}, "kernels")
    Yt, Xt = _pool_reference(kind, X[:, None, :, :], (1, p), s and (1, s), padding)
    Yt.backward(torch.tensor(dY[:, None]).permute(0, 3, 1, 2))
    np.testing.assert_allclose(Y, Yt.detach().permute(0, 2, 3, 1).numpy()[:, 0], **TOL)
    np.testing.assert_allclose(dX, Xt.grad.permute(0, 2, 3, 1).numpy()[:, 0], **TOL)


WINDOW_OPS = [("conv2d", (3, 3), (1, 1), "same", (1, 1)), ("conv2d", (3, 2), (2, 1), "valid", (2, 1)),
              ("max_pool2d", (2, 2), (2, 2), "valid", None), ("max_pool2d", (3, 3), (2, 2), "same", None),
              ("sum_pool2d", (2, 2), (2, 2), "valid", None), ("sum_pool2d", (3, 2), (1, 2), "same", None)]


@pytest.mark.parametrize("name, k, s, padding, d", WINDOW_OPS)
def test_fast_kernels_match_the_portable_code(backend, dtype, name, k, s, padding, d):
    """Each adapter kernel against anynet's own portable code, in the model dtypes (ties included)."""
    from anynet.layers import _windows

    fast = backend.backend.kernels.get(name)
    if fast is None:
        pytest.skip(f"{backend.backend.name} has no {name!r} kernel; the portable code is what runs")
    rng = np.random.default_rng(9)
    X = rng.integers(-2, 3, size=(2, 9, 8, 3)).astype(dtype)  # small integers: many ties, exact sums
    pads = _pads(X.shape[1:3], k, s, padding, d or (1, 1))
    Xd, xp = put(backend, X), backend.xp
    args = (put(backend, rng.integers(-2, 3, size=(*k, 3, 4)).astype(dtype)), s, pads, d) if d else (k, s, pads)
    Y1, back1 = fast(Xd, *args, xp)
    Y2, back2 = getattr(_windows, name)(Xd, *args, xp)
    same_place(backend, Y1, dtype)
    np.testing.assert_array_equal(get(backend, Y1), get(backend, Y2))
    dY = put(backend, rng.integers(-2, 3, size=tuple(Y2.shape)).astype(dtype))
    g1, g2 = back1(dY), back2(dY)
    for a, b in zip(g1 if d else (g1,), g2 if d else (g2,)):
        same_place(backend, a, dtype)
        np.testing.assert_array_equal(get(backend, a), get(backend, b))
