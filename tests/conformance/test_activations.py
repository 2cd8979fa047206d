"""Activations on every backend and device: forward values and backprops against NumPy
float64 references written here, central-difference gradient checks, dtype and device of
the results, stability at |z| = 1e4, the fused-kernel path, and name lookup."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest
from scipy.special import expit, log_softmax, softmax

from anynet import activations
from anynet.activations import ELU, Activation, LeakyReLU, Sigmoid, Softplus
from anynet.errors import InputTypeError, UnknownNameError
from anynet.gradcheck import check_gradient

from ._helpers import GRADCHECK_MAX, assert_close, get, put, same_place


# -- the NumPy float64 references -----------------------------------------------------------

def _softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """J[n, i, j] = d softmax(z_n)_i / d z_nj = s_i (delta_ij - s_j)."""
    s = softmax(z, axis=-1)
    return np.einsum("ni,ij->nij", s, np.eye(z.shape[-1])) - np.einsum("ni,nj->nij", s, s)


def _log_softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """J[n, i, j] = d log_softmax(z_n)_i / d z_nj = delta_ij - s_j."""
    s = softmax(z, axis=-1)
    return np.eye(z.shape[-1])[None, :, :] - s[:, None, :]


def ref_forward(name: str, z: np.ndarray, alpha: float | None = None) -> np.ndarray:
    if name == "linear":
        return z.copy()
    if name == "sigmoid":
        return expit(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    if name == "elu":
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))
    if name == "softplus":
        return np.logaddexp(0.0, z)
    if name == "softmax":
        return softmax(z, axis=-1)
    if name == "log_softmax":
        return log_softmax(z, axis=-1)
    raise KeyError(name)


def ref_backward(name: str, dy: np.ndarray, z: np.ndarray, alpha: float | None = None) -> np.ndarray:
    """dL/dz given dL/dy: the analytic derivative, or J^T dy for the row-wise ones."""
    if name == "linear":
        return dy.copy()
    if name == "sigmoid":
        s = expit(z)
        return dy * s * (1.0 - s)
    if name == "tanh":
        return dy / np.cosh(z) ** 2
    if name == "relu":
        return dy * (z > 0)
    if name == "leaky_relu":
        return dy * np.where(z > 0, 1.0, alpha)
    if name == "elu":
        return dy * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
    if name == "softplus":
        return dy * expit(z)
    if name == "softmax":
        return np.einsum("ni,nij->nj", dy, _softmax_jacobian(z))
    if name == "log_softmax":
        return np.einsum("ni,nij->nj", dy, _log_softmax_jacobian(z))
    raise KeyError(name)


# (reference name, alpha the reference uses, what activations.get is given)
CASES = [
    ("linear", None, "linear"),
    ("sigmoid", None, "sigmoid"),
    ("tanh", None, "tanh"),
    ("relu", None, "relu"),
    ("leaky_relu", 0.2, "leaky_relu"),  # the documented default alpha
    ("leaky_relu", 0.05, LeakyReLU(0.05)),
    ("elu", 1.0, "elu"),  # the documented default alpha
    ("elu", 0.5, ELU(alpha=0.5)),
    ("softplus", None, "softplus"),
    ("softmax", None, "softmax"),
    ("log_softmax", None, "log_softmax"),
]
CASE_IDS = [f"{name}-{alpha}" if alpha is not None else name for name, alpha, _ in CASES]


def _z(shape=(6, 5), seed=0, scale=3.0) -> np.ndarray:
    """Random pre-activations with no entry within 1e-2 of relu's kink at 0."""
    z = np.random.default_rng(seed).normal(scale=scale, size=shape)
    return np.where(np.abs(z) < 1e-2, 0.5, z)


@contextlib.contextmanager
def _no_float_warnings():
    """Turn warnings into errors, and NumPy floating-point events into exceptions.

    Underflow stays ignored (NumPy's default): exp(-1e4) rounding to exactly 0 is the
    intended, correct result of the stable formulas, not a problem to report.
    """
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


# -- the registry is covered -------------------------------------------------------------

def test_every_registered_activation_has_a_reference(backend):
    """A new activation must come with a reference here before it counts as tested."""
    assert set(activations.names()) == {name for name, _, _ in CASES}
    for name in activations.names():
        assert activations.get(name).forward(put(backend, _z()), backend.xp).shape == (6, 5), name


# -- forward and backward values ------------------------------------------------------------

@pytest.mark.parametrize("name, alpha, spec", CASES, ids=CASE_IDS)
def test_forward_matches_reference(backend, dtype, name, alpha, spec):
    """Y = f(Z) equals the reference, keeps Z's dtype and stays on Z's device."""
    z = _z().astype(dtype)
    Z = put(backend, z)
    Y = activations.get(spec).forward(Z, backend.xp)
    same_place(backend, Y, dtype)
    assert Y.shape == z.shape
    assert_close(backend, Y, ref_forward(name, z.astype(np.float64), alpha), dtype)


@pytest.mark.parametrize("name, alpha, spec", CASES, ids=CASE_IDS)
def test_backward_matches_analytic_derivative(backend, dtype, name, alpha, spec):
    """dZ = backward(dY, Z, Y) is dY * f'(Z) (J^T dY for softmax and log_softmax)."""
    rng = np.random.default_rng(1)
    z = _z().astype(dtype)
    dy = rng.normal(size=z.shape).astype(dtype)
    Z, dY = put(backend, z), put(backend, dy)
    act = activations.get(spec)
    Y = act.forward(Z, backend.xp)
    dZ = act.backward(dY, Z, Y, backend.xp)
    same_place(backend, dZ, dtype)
    assert dZ.shape == z.shape
    assert_close(backend, dZ, ref_backward(name, dy.astype(np.float64), z.astype(np.float64), alpha), dtype)


@pytest.mark.parametrize("name, alpha, spec", CASES, ids=CASE_IDS)
def test_backward_passes_gradient_check(backend, name, alpha, spec):
    """backward(R, Z, f(Z)) is the gradient of sum(f(Z) * R) by central differences (float64)."""
    xp = backend.xp
    shape = (4, 5)
    z = _z(shape, seed=2, scale=2.0)
    R = put(backend, np.random.default_rng(3).normal(size=shape))
    act = activations.get(spec)

    def fun_and_grad(theta):
        Z = xp.reshape(theta, shape)
        Y = act.forward(Z, xp)
        return xp.sum(Y * R), xp.reshape(act.backward(R, Z, Y, xp), (-1,))

    res = check_gradient(fun_and_grad, put(backend, z.reshape(-1)), to_numpy=backend.backend.to_numpy)
    assert res.rel_diff < GRADCHECK_MAX, (name, res.rel_diff)


def test_softmax_rows_sum_to_one(backend, dtype):
    """Softmax rows sum to 1 and exp(log_softmax) equals softmax."""
    z = _z(seed=4).astype(dtype)
    Z = put(backend, z)
    P = activations.get("softmax").forward(Z, backend.xp)
    assert_close(backend, backend.xp.sum(P, axis=-1), np.ones(z.shape[0]), dtype)
    assert_close(backend, backend.xp.exp(activations.get("log_softmax").forward(Z, backend.xp)),
                 softmax(z.astype(np.float64), axis=-1), dtype)


# -- the functional forms ------------------------------------------------------------------

FUNCTIONS = [
    ("linear", None, lambda Z, xp: activations.linear(Z, xp)),
    ("sigmoid", None, lambda Z, xp: activations.sigmoid(Z, xp)),
    ("tanh", None, lambda Z, xp: activations.tanh(Z, xp)),
    ("relu", None, lambda Z, xp: activations.relu(Z, xp=xp)),
    ("leaky_relu", 0.1, lambda Z, xp: activations.leaky_relu(Z, 0.1, xp)),
    ("elu", 0.7, lambda Z, xp: activations.elu(Z, 0.7, xp)),
    ("softplus", None, lambda Z, xp: activations.softplus(Z, xp)),
    ("softmax", None, lambda Z, xp: activations.softmax(Z, xp=xp)),
    ("log_softmax", None, lambda Z, xp: activations.log_softmax(Z, xp=xp)),
]


@pytest.mark.parametrize("name, alpha, fn", FUNCTIONS, ids=[f[0] for f in FUNCTIONS])
def test_functional_forms_match_reference(backend, dtype, name, alpha, fn):
    """activations.sigmoid(Z), relu(Z), ... compute the same maths, with or without xp."""
    z = _z(seed=5).astype(dtype)
    Z = put(backend, z)
    for ns in (backend.xp, None):  # None: the namespace is taken from Z
        Y = fn(Z, ns)
        same_place(backend, Y, dtype)
        assert_close(backend, Y, ref_forward(name, z.astype(np.float64), alpha), dtype, err_msg=name)


def test_sigmoid_gradient_is_a_quarter_at_zero(backend, dtype):
    """ex4's sigmoidGradient: exactly 0.25 at z = 0, s(1 - s) elsewhere."""
    z = np.array([0.0, 0.0, -1.5, 2.0]).astype(dtype)
    G = activations.sigmoid_gradient(put(backend, z), backend.xp)
    same_place(backend, G, dtype)
    g = get(backend, G)
    assert g[0] == 0.25 and g[1] == 0.25
    s = expit(z.astype(np.float64))
    assert_close(backend, G, s * (1 - s), dtype)


# -- the backend's fused kernels ------------------------------------------------------------

def test_fused_sigmoid_kernel_matches_portable_path(backend, dtype):
    """Sigmoid and Softplus through backend.kernels give the portable result (and the reference)."""
    xp, kernels = backend.xp, backend.backend.kernels
    z = np.concatenate([np.linspace(-40, 40, 81), [-1e4, 1e4, 0.0]]).astype(dtype).reshape(3, -1)
    Z = put(backend, z)
    fused = Sigmoid().forward(Z, xp, kernels)
    portable = Sigmoid().forward(Z, xp)
    same_place(backend, fused, dtype)
    assert_close(backend, fused, get(backend, portable).astype(np.float64), dtype)
    assert_close(backend, fused, expit(z.astype(np.float64)), dtype)
    # Softplus's backward goes through the (possibly fused) sigmoid.
    dY = put(backend, np.ones_like(z))
    Y = Softplus().forward(Z, xp, kernels)
    dZ = Softplus().backward(dY, Z, Y, xp, kernels)
    same_place(backend, dZ, dtype)
    assert_close(backend, dZ, expit(z.astype(np.float64)), dtype)


# -- numerical stability -------------------------------------------------------------------

STABLE = ["sigmoid", "softplus", "elu", "softmax", "log_softmax"]
HUGE = np.array([[1e4, -1e4, 0.0, 30.0],
                 [-1e4, -1e4, -1e4, -1e4],
                 [1e4, 1e4, -3.0, 2.0],
                 [-2e3, 5e3, -1e4, 1e4]])


@pytest.mark.parametrize("name", STABLE)
def test_extreme_inputs_are_finite_without_warnings(backend, dtype, name):
    """At |z| up to 1e4 forward and backward are finite, warning-free and still correct."""
    z = HUGE.astype(dtype)
    alpha = 1.0 if name == "elu" else None
    expected = ref_forward(name, z.astype(np.float64), alpha)
    expected_dz = ref_backward(name, np.ones(z.shape), z.astype(np.float64), alpha)
    xp = backend.xp
    act = activations.get(name)
    Z, dY = put(backend, z), put(backend, np.ones(z.shape, dtype))
    with _no_float_warnings():
        Y = act.forward(Z, xp)
        dZ = act.backward(dY, Z, Y, xp)
        Yk = act.forward(Z, xp, backend.backend.kernels)
    for out in (Y, dZ, Yk):
        assert np.all(np.isfinite(get(backend, out))), name
    assert_close(backend, Y, expected, dtype)
    assert_close(backend, Yk, expected, dtype)
    assert_close(backend, dZ, expected_dz, dtype)


@pytest.mark.parametrize("fused", [False, True], ids=["portable", "kernels"])
def test_sigmoid_saturates_exactly(backend, dtype, fused):
    """sigmoid(1e4) is exactly 1 and sigmoid(-1e4) exactly 0, with no warning."""
    kernels = backend.backend.kernels if fused else None
    Z = put(backend, np.array([1e4, -1e4, 800.0, -800.0]), dtype)
    with _no_float_warnings():
        Y = Sigmoid().forward(Z, backend.xp, kernels)
    np.testing.assert_array_equal(get(backend, Y), np.array([1.0, 0.0, 1.0, 0.0], dtype=dtype))


# -- lookup by name ------------------------------------------------------------------------

@pytest.mark.parametrize("spec, canonical", [
    (None, "linear"), ("identity", "linear"), ("logistic", "sigmoid"), ("leakyrelu", "leaky_relu"),
    ("LeakyReLU", "leaky_relu"), ("ReLU", "relu"), ("Sigmoid", "sigmoid"), ("TANH", "tanh"),
    ("softmax", "softmax"), ("log_softmax", "log_softmax"),
])
def test_get_resolves_names_and_aliases(backend, spec, canonical):
    """get() accepts names case-insensitively, the aliases, and None for linear."""
    act = activations.get(spec)
    assert isinstance(act, Activation) and act.name == canonical
    z = _z(seed=6)
    alpha = {"leaky_relu": 0.2, "elu": 1.0}.get(canonical)
    assert_close(backend, act.forward(put(backend, z), backend.xp), ref_forward(canonical, z, alpha), "float64")


def test_get_returns_an_activation_instance_unchanged(backend):
    act = LeakyReLU(0.3)
    assert activations.get(act) is act
    z = _z(seed=7)
    assert_close(backend, activations.get(act).forward(put(backend, z), backend.xp),
                 ref_forward("leaky_relu", z, 0.3), "float64")


def test_get_unknown_name_suggests_the_closest(backend):
    with pytest.raises(UnknownNameError, match="Did you mean 'relu'") as info:
        activations.get("rleu")
    assert "'rleu'" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [3, 1.5, ["relu"]])
def test_get_rejects_non_strings(backend, bad):
    with pytest.raises(InputTypeError, match="activation"):
        activations.get(bad)


# -- Keras' arguments: relu's negative_slope, max_value, threshold; axis ------------------

def ref_keras_relu(z: np.ndarray, negative_slope: float, max_value, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Keras 3's relu, written out, and its derivative away from the kinks."""
    y = np.where(z > threshold, z, 0.0)
    d = (z > threshold).astype(float)
    if max_value is not None:
        d = d * ((y >= 0) & (y <= max_value))
        y = np.clip(y, 0.0, max_value)
    y = y - negative_slope * np.maximum(threshold - z, 0.0)
    d = d + negative_slope * (z < threshold)
    return y, d


RELU_ARGS = [(0.5, None, 0.0), (0.0, 2.0, 0.0), (0.0, None, 1.5), (0.3, 4.0, -1.0), (0.0, 6.0, 0.0)]


@pytest.mark.parametrize("negative_slope, max_value, threshold", RELU_ARGS, ids=str)
def test_relu_arguments(backend, dtype, negative_slope, max_value, threshold):
    """ReLU(negative_slope, max_value, threshold) and relu(...) follow Keras; backward is the
    derivative and passes the gradient check."""
    z = _z(seed=20)
    z = np.where(np.abs(z - threshold) < 1e-2, threshold + 0.5, z)  # away from the kinks
    if max_value is not None:
        z = np.where(np.abs(z - max_value) < 1e-2, max_value + 0.5, z)
    z = z.astype(dtype)
    y, d = ref_keras_relu(z.astype(np.float64), negative_slope, max_value, threshold)
    act = activations.ReLU(negative_slope, max_value, threshold)
    Z = put(backend, z)
    Y = act.forward(Z, backend.xp)
    assert_close(backend, Y, y, dtype)
    assert_close(backend, activations.relu(Z, negative_slope, max_value, threshold), y, dtype)
    dy = np.random.default_rng(21).normal(size=z.shape).astype(dtype)
    assert_close(backend, act.backward(put(backend, dy), Z, Y, backend.xp), dy.astype(np.float64) * d, dtype)
    if dtype == "float64":
        R = put(backend, dy)

        def fun_and_grad(theta):
            Zt = backend.xp.reshape(theta, z.shape)
            Yt = act.forward(Zt, backend.xp)
            return backend.xp.sum(Yt * R), backend.xp.reshape(act.backward(R, Zt, Yt, backend.xp), (-1,))

        assert check_gradient(fun_and_grad, put(backend, z.reshape(-1)),
                              to_numpy=backend.backend.to_numpy).rel_diff < GRADCHECK_MAX


def test_leaky_relu_negative_slope(backend, dtype):
    z = _z(seed=22).astype(dtype)
    want = np.where(z > 0, z, 0.3 * z.astype(np.float64))
    assert_close(backend, activations.leaky_relu(put(backend, z), negative_slope=0.3), want, dtype)
    assert_close(backend, LeakyReLU(negative_slope=0.3).forward(put(backend, z), backend.xp), want, dtype)
    assert LeakyReLU(alpha=0.3) == LeakyReLU(0.3) and LeakyReLU(0.3).get_config() == {"negative_slope": 0.3}


@pytest.mark.parametrize("axis", [0, 1, -2])
def test_softmax_and_log_softmax_axis(backend, dtype, axis):
    """softmax(axis=k) sums to one along k; log_softmax(axis=k) is its log; backward passes
    the gradient check; a softmax over another axis is named for it (no fusing with a
    last-axis loss)."""
    z = _z((3, 4, 5), seed=23).astype(dtype)
    Z = put(backend, z)
    ref = softmax(z.astype(np.float64), axis=axis)
    assert_close(backend, activations.softmax(Z, axis=axis), ref, dtype)
    assert_close(backend, activations.log_softmax(Z, axis), np.log(ref), dtype)
    for act in (activations.Softmax(axis), activations.LogSoftmax(axis=axis)):
        assert type(act)(**act.get_config()) == act
        if dtype == "float64":
            R = put(backend, np.random.default_rng(24).normal(size=z.shape))

            def fun_and_grad(theta, act=act):
                Zt = backend.xp.reshape(theta, z.shape)
                Yt = act.forward(Zt, backend.xp)
                return backend.xp.sum(Yt * R), backend.xp.reshape(act.backward(R, Zt, Yt, backend.xp), (-1,))

            assert check_gradient(fun_and_grad, put(backend, z.reshape(-1)),
                                  to_numpy=backend.backend.to_numpy).rel_diff < GRADCHECK_MAX
    assert activations.Softmax(axis).name == f"softmax(axis={axis})"
    assert activations.Softmax().name == "softmax" and activations.Softmax(-1) == activations.get("softmax")
