"""Losses on every backend and device: targets, values and gradients against NumPy float64
references written here, both output reductions, the from-logits and fused logits paths,
gradient checks, ex4's cost convention, clipping, and name lookup. Keras' own numbers are
in test_keras_golden.py; sample weights, reductions, axes and shapes are at the end here."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import expit, log_expit, log_softmax, softmax

from anynet import losses
from anynet.errors import InputError, InputTypeError, UnknownNameError
from anynet.gradcheck import check_gradient

from ._helpers import GRADCHECK_MAX, assert_close, get, put, same_place, same_place_0d

N, K = 6, 4


def _assert_gradient_checks(backend, loss, y: np.ndarray, T, cid) -> None:
    """Assert the loss's gradient wrt its input y agrees with central differences (float64)."""
    xp = backend.xp

    def fun_and_grad(theta):
        value, dY = loss.value_and_grad(xp.reshape(theta, y.shape), T, xp)
        return value, xp.reshape(dY, (-1,))

    res = check_gradient(fun_and_grad, put(backend, y.reshape(-1)), to_numpy=backend.backend.to_numpy)
    assert res.rel_diff < GRADCHECK_MAX, (cid, res.rel_diff)


# -- the NumPy float64 references -----------------------------------------------------------

def _elementwise(kind: str, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The elementwise loss e(y, t) and its derivative de/dy."""
    if kind == "mse":
        return (y - t) ** 2, 2.0 * (y - t)
    if kind == "mae":
        return np.abs(y - t), np.sign(y - t)
    if kind == "quadratic":
        return 0.5 * (y - t) ** 2, y - t
    if kind == "bce":
        return -(t * np.log(y) + (1 - t) * np.log(1 - y)), -t / y + (1 - t) / (1 - y)
    if kind == "cce":
        # Keras rescales each row to sum to one first: q = y / sum(y); d/dy of -t log q
        # by the quotient rule is (-t / q + sum(t)) / sum(y).
        s = y.sum(axis=-1, keepdims=True)
        q = y / s
        return -t * np.log(q), (-t / q + t.sum(axis=-1, keepdims=True)) / s
    raise KeyError(kind)


def ref_value_and_grad(kind: str, y: np.ndarray, t: np.ndarray, reduction: str) -> tuple[float, np.ndarray]:
    """Mean over samples of (mean or sum over outputs of e); and its gradient wrt y."""
    e, de = _elementwise(kind, y, t)
    n, k = y.shape
    per_sample = e.mean(axis=1) if reduction == "mean" else e.sum(axis=1)
    return float(per_sample.mean()), de / (n * (k if reduction == "mean" else 1))


def ref_bce_logits(z: np.ndarray, t: np.ndarray, reduction: str) -> tuple[float, np.ndarray]:
    """Binary cross-entropy of sigmoid(z), by log-sigmoid (exact for any |z|); grad wrt z."""
    e = -(t * log_expit(z) + (1 - t) * log_expit(-z))
    n, k = z.shape
    per_sample = e.mean(axis=1) if reduction == "mean" else e.sum(axis=1)
    return float(per_sample.mean()), (expit(z) - t) / (n * (k if reduction == "mean" else 1))


def ref_cce_logits(z: np.ndarray, t: np.ndarray, reduction: str) -> tuple[float, np.ndarray]:
    """Categorical cross-entropy of softmax(z) (rows of t summing to 1); grad wrt z."""
    e = -t * log_softmax(z, axis=-1)
    n, k = z.shape
    per_sample = e.mean(axis=1) if reduction == "mean" else e.sum(axis=1)
    return float(per_sample.mean()), (softmax(z, axis=-1) - t) / (n * (k if reduction == "mean" else 1))


# -- data ----------------------------------------------------------------------------------

def _probs(seed=0, low=0.05, high=0.95, shape=(N, K)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def _binary(seed=1, shape=(N, K)) -> np.ndarray:
    t = (np.random.default_rng(seed).uniform(size=shape) < 0.5).astype(np.float64)
    t.flat[0], t.flat[1] = 0.0, 1.0  # both classes present whatever the draw
    return t


def _labels(seed=2, n=N, k=K) -> np.ndarray:
    lab = np.random.default_rng(seed).integers(0, k, size=n)
    lab[:2] = [0, k - 1]
    return lab


def _row_probs(seed=3, shape=(N, K)) -> np.ndarray:
    p = np.random.default_rng(seed).uniform(0.1, 1.0, size=shape)
    return p / p.sum(axis=1, keepdims=True)


def _case_data(kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y, raw targets as a user passes them, targets as arrays shaped like Y)."""
    rng = np.random.default_rng(seed)
    if kind in ("mse", "mae", "quadratic"):
        y = rng.normal(size=(N, K))
        t = y + rng.choice([-1, 1], size=(N, K)) * rng.uniform(0.1, 1.0, size=(N, K))  # |y - t| >= 0.1
        return y, t, t
    if kind == "bce":
        t = _binary(seed + 1)
        return _probs(seed), t, t
    if kind == "cce":
        t = np.eye(K)[_labels(seed + 2)]
        return _row_probs(seed), t, t
    if kind == "scce":
        lab = _labels(seed + 2)
        return _row_probs(seed), lab, np.eye(K)[lab]
    raise KeyError(kind)


# (id, factory, reference kind, reduction the reference uses)
CASES = [
    ("mse", lambda: losses.get("mse"), "mse", "mean"),
    ("mse-sum", lambda: losses.MeanSquaredError(output_reduction="sum"), "mse", "sum"),
    ("mae", lambda: losses.get("mae"), "mae", "mean"),
    ("mae-sum", lambda: losses.MeanAbsoluteError(output_reduction="sum"), "mae", "sum"),
    ("quadratic", lambda: losses.get("quadratic"), "quadratic", "sum"),
    ("bce", lambda: losses.get("binary_crossentropy"), "bce", "mean"),
    ("bce-sum", lambda: losses.BinaryCrossentropy(output_reduction="sum"), "bce", "sum"),
    ("cce", lambda: losses.get("categorical_crossentropy"), "cce", "sum"),
    ("cce-mean", lambda: losses.CategoricalCrossentropy(output_reduction="mean"), "cce", "mean"),
    ("scce", lambda: losses.get("sparse_categorical_crossentropy"), "scce", "sum"),
]
CASE_IDS = [c[0] for c in CASES]


def _ref_kind(kind: str) -> str:
    return "cce" if kind == "scce" else kind


def _prepare(backend, loss, raw_t, dtype):
    T = loss.targets(put(backend, raw_t), K, backend.xp, getattr(backend.xp, dtype))
    same_place(backend, T, dtype)
    return T


# -- values and gradients ------------------------------------------------------------------

@pytest.mark.parametrize("cid, make, kind, reduction", CASES, ids=CASE_IDS)
def test_value_and_grad_match_reference(backend, dtype, cid, make, kind, reduction):
    """value_and_grad gives the reference loss (0-d, Y's dtype and device) and dLoss/dY."""
    loss = make()
    y, raw_t, t = _case_data(kind)
    y = y.astype(dtype)
    t = t.astype(dtype)  # targets the backend sees are rounded to dtype too
    T = _prepare(backend, loss, raw_t, dtype)
    assert_close(backend, T, t.astype(np.float64), dtype)
    value, dY = loss.value_and_grad(put(backend, y), T, backend.xp)
    same_place_0d(backend, value, dtype)
    same_place(backend, dY, dtype)
    assert dY.shape == y.shape
    ref, ref_grad = ref_value_and_grad(_ref_kind(kind), y.astype(np.float64), t.astype(np.float64), reduction)
    assert_close(backend, value, ref, dtype)
    assert_close(backend, dY, ref_grad, dtype)


@pytest.mark.parametrize("cid, make, kind, reduction", CASES, ids=CASE_IDS)
def test_gradient_check(backend, cid, make, kind, reduction):
    """dY is the central-difference gradient of the value wrt Y (float64)."""
    loss = make()
    y, raw_t, _ = _case_data(kind, seed=10)
    if kind in ("bce", "cce", "scce"):
        y = _probs(seed=11, low=0.3, high=0.7)  # well inside the clip bounds
    T = _prepare(backend, loss, raw_t, "float64")

    _assert_gradient_checks(backend, loss, y, T, cid)


def test_loss_call_matches_value(backend, dtype):
    """loss(y_true, y_pred) is the value of value_and_grad, also for 1-d outputs."""
    y, t = _probs(seed=20, shape=(N,)).astype(dtype), _binary(seed=21, shape=(N,)).astype(dtype)
    ref, _ = ref_value_and_grad("bce", y[:, None].astype(np.float64), t[:, None].astype(np.float64), "mean")
    value = losses.BinaryCrossentropy()(put(backend, t), put(backend, y))
    same_place_0d(backend, value, dtype)
    assert_close(backend, value, ref, dtype)


# -- targets -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", ["(n,)", "(n,1)"])
@pytest.mark.parametrize("label_dtype", ["int64", "int32", "float64"])
def test_sparse_labels_become_one_hot(backend, dtype, shape, label_dtype):
    """SCCE.targets turns labels of shape (n,) or (n, 1) into one-hot rows of dtype."""
    loss = losses.SparseCategoricalCrossentropy()
    lab = _labels(seed=30)
    raw = (lab if shape == "(n,)" else lab[:, None]).astype(label_dtype)
    T = loss.targets(put(backend, raw), K, backend.xp, getattr(backend.xp, dtype))
    same_place(backend, T, dtype)
    assert T.shape == (N, K)
    np.testing.assert_array_equal(get(backend, T), np.eye(K)[lab])
    y = _row_probs(seed=31).astype(dtype)
    value, dY = loss.value_and_grad(put(backend, y), T, backend.xp)
    ref, ref_grad = ref_value_and_grad("cce", y.astype(np.float64), np.eye(K)[lab], "sum")
    assert_close(backend, value, ref, dtype)
    assert_close(backend, dY, ref_grad, dtype)


def test_single_output_targets_become_a_column(backend, dtype):
    """A (n,) target vector for one output becomes (n, 1) in the loss's dtype."""
    loss = losses.BinaryCrossentropy()
    t = _binary(seed=32, shape=(N,))
    T = loss.targets(put(backend, t.astype(np.int64)), 1, backend.xp, getattr(backend.xp, dtype))
    same_place(backend, T, dtype)
    assert T.shape == (N, 1)
    y = _probs(seed=33, shape=(N, 1)).astype(dtype)
    value, dY = loss.value_and_grad(put(backend, y), T, backend.xp)
    ref, ref_grad = ref_value_and_grad("bce", y.astype(np.float64), t[:, None], "mean")
    assert_close(backend, value, ref, dtype)
    assert_close(backend, dY, ref_grad, dtype)


# -- ex4's convention and clipping ---------------------------------------------------------

def test_ex4_cost_is_bce_with_sum_over_outputs(backend, dtype):
    """ex4's J = (1/m) sum_i sum_k -(t log p + (1 - t) log(1 - p)) is BCE(output_reduction='sum')."""
    p = np.array([[0.9, 0.2, 0.1],
                  [0.3, 0.6, 0.8]])
    t = np.array([[1.0, 0.0, 0.0],
                  [0.0, 0.0, 1.0]])
    m = 2
    # By hand: every probability the true side gets, summed over samples and outputs.
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.9) + np.log(0.7) + np.log(0.4) + np.log(0.8)) / m
    assert np.isclose(expected, np.sum(-(t * np.log(p) + (1 - t) * np.log(1 - p))) / m)
    Y = put(backend, p, dtype)
    for loss, want in ((losses.BinaryCrossentropy(output_reduction="sum"), expected),
                       (losses.BinaryCrossentropy(), expected / 3)):  # Keras' default: mean over the 3 outputs
        T = loss.targets(put(backend, t), 3, backend.xp, getattr(backend.xp, dtype))
        value, _ = loss.value_and_grad(Y, T, backend.xp)
        assert_close(backend, value, want, dtype, err_msg=loss.output_reduction)


def test_probabilities_of_exactly_zero_and_one_are_clipped(backend, dtype):
    """BCE and CCE at p in {0, 1} are finite and warning-free: probabilities are clipped to
    [1e-7, 1 - 1e-7] whatever the dtype (Keras' epsilon), and get no gradient where clipped."""
    eps = 1e-7
    y = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.5, 0.5]])
    t = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 0.0]])
    xp = backend.xp
    Y = put(backend, y, dtype)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        bce = losses.BinaryCrossentropy()
        value, dY = bce.value_and_grad(Y, bce.targets(put(backend, t), 4, xp, getattr(xp, dtype)), xp)
        cce = losses.CategoricalCrossentropy()
        t_cat = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
        c_value, c_dY = cce.value_and_grad(Y, put(backend, t_cat, dtype), xp)
    for out in (value, dY, c_value, c_dY):
        assert np.all(np.isfinite(get(backend, out)))
    # In float32 the upper bound 1 - 1e-7 rounds to 1 - 2**-23: clip where the backend does.
    hi = float(np.asarray(1.0 - eps, dtype=dtype))
    yc = np.clip(y, eps, hi)
    ref, ref_grad = ref_value_and_grad("bce", yc, t, "mean")
    ref_grad = ref_grad * ((y >= eps) & (y <= hi))  # no gradient through the clip
    # A wrong certain prediction costs -log(1e-7), about 16.1, in either dtype.
    assert ref > -np.log(eps) / 4
    # float32: log(1 - 1e-7) is -1.19e-7 rather than -1e-7 (the bound rounds), so compare loosely.
    assert_close(backend, value, ref, dtype, scale=1.0 if dtype == "float64" else 10.0)
    assert_close(backend, dY, ref_grad, dtype)
    rows = np.clip(y / y.sum(axis=1, keepdims=True), eps, hi)
    want = np.mean(np.sum(-t_cat * np.log(rows), axis=1))
    assert_close(backend, c_value, want, dtype)


# -- logits --------------------------------------------------------------------------------

LOGIT_CASES = [
    ("bce", lambda **kw: losses.BinaryCrossentropy(**kw), "mean"),
    ("bce-sum", lambda **kw: losses.BinaryCrossentropy(output_reduction="sum", **kw), "sum"),
    ("cce", lambda **kw: losses.CategoricalCrossentropy(**kw), "sum"),
    ("cce-mean", lambda **kw: losses.CategoricalCrossentropy(output_reduction="mean", **kw), "mean"),
    ("scce", lambda **kw: losses.SparseCategoricalCrossentropy(**kw), "sum"),
]
LOGIT_IDS = [c[0] for c in LOGIT_CASES]


def _logit_data(cid: str, seed: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z, raw targets, targets shaped like Z)."""
    z = np.random.default_rng(seed).normal(scale=scale, size=(N, K))
    if cid.startswith("bce"):
        t = _binary(seed + 1)
        return z, t, t
    lab = _labels(seed + 2)
    return z, (lab if cid == "scce" else np.eye(K)[lab]), np.eye(K)[lab]


def _ref_logits(cid, z, t, reduction):
    return (ref_bce_logits if cid.startswith("bce") else ref_cce_logits)(z, t, reduction)


@pytest.mark.parametrize("cid, make, reduction", LOGIT_CASES, ids=LOGIT_IDS)
def test_logits_value_and_grad(backend, dtype, cid, make, reduction):
    """The fused path returns (loss, (p - t) / norm, p) with p = sigmoid or softmax of Z."""
    loss = make()
    z, raw_t, t = _logit_data(cid, seed=40, scale=2.0)
    z = z.astype(dtype)
    xp = backend.xp
    Z = put(backend, z)
    T = _prepare(backend, loss, raw_t, dtype)
    value, dZ, P = loss.logits_value_and_grad(Z, T, xp)
    same_place_0d(backend, value, dtype)
    same_place(backend, dZ, dtype)
    same_place(backend, P, dtype)
    z64 = z.astype(np.float64)
    ref, ref_grad = _ref_logits(cid, z64, t, reduction)
    assert_close(backend, value, ref, dtype)
    assert_close(backend, dZ, ref_grad, dtype)
    assert_close(backend, P, expit(z64) if cid.startswith("bce") else softmax(z64, axis=-1), dtype)
    # The probability path on those probabilities gives the same loss (moderate Z: no clipping).
    value_p, _ = loss.value_and_grad(P, T, xp)
    assert_close(backend, value_p, get(backend, value).astype(np.float64), dtype)


@pytest.mark.parametrize("cid, make, reduction", LOGIT_CASES, ids=LOGIT_IDS)
def test_from_logits_value_and_grad(backend, dtype, cid, make, reduction):
    """from_logits=True makes value_and_grad take Z and return the loss and dLoss/dZ."""
    loss = make(from_logits=True)
    assert loss.from_logits
    z, raw_t, t = _logit_data(cid, seed=41, scale=2.0)
    z = z.astype(dtype)
    T = _prepare(backend, loss, raw_t, dtype)
    value, dZ = loss.value_and_grad(put(backend, z), T, backend.xp)
    same_place_0d(backend, value, dtype)
    same_place(backend, dZ, dtype)
    ref, ref_grad = _ref_logits(cid, z.astype(np.float64), t, reduction)
    assert_close(backend, value, ref, dtype)
    assert_close(backend, dZ, ref_grad, dtype)


@pytest.mark.parametrize("cid, make, reduction", LOGIT_CASES, ids=LOGIT_IDS)
def test_logits_path_is_finite_for_huge_logits(backend, dtype, cid, make, reduction):
    """At |Z| ~ 1e3 the logits path stays finite and exact (the probability path would clip)."""
    loss = make()
    z, raw_t, t = _logit_data(cid, seed=42, scale=1.0)
    z = (np.sign(z) * 1e3 + np.round(z)).astype(dtype)  # +-1e3 give or take a few
    T = _prepare(backend, loss, raw_t, dtype)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        value, dZ, P = loss.logits_value_and_grad(put(backend, z), T, backend.xp)
    for out in (value, dZ, P):
        assert np.all(np.isfinite(get(backend, out)))
    ref, ref_grad = _ref_logits(cid, z.astype(np.float64), t, reduction)
    assert ref > 100  # some certain predictions are wrong: a large but finite loss
    assert_close(backend, value, ref, dtype)
    assert_close(backend, dZ, ref_grad, dtype)


@pytest.mark.parametrize("cid, make, reduction", LOGIT_CASES, ids=LOGIT_IDS)
def test_logits_gradient_check(backend, cid, make, reduction):
    """dZ of the from-logits loss is the central-difference gradient wrt Z (float64)."""
    loss = make(from_logits=True)
    z, raw_t, _ = _logit_data(cid, seed=43, scale=1.5)
    T = _prepare(backend, loss, raw_t, "float64")

    _assert_gradient_checks(backend, loss, z, T, cid)


def test_cce_logits_with_soft_targets(backend):
    """Soft (and unnormalised) targets: loss -sum t log softmax(z); gradient softmax(z) sum(t) - t."""
    xp = backend.xp
    loss = losses.CategoricalCrossentropy(from_logits=True)
    z = np.random.default_rng(44).normal(size=(N, K))
    t = np.random.default_rng(45).uniform(0.0, 1.0, size=(N, K))  # rows do not sum to 1
    T = put(backend, t)
    value, dZ = loss.value_and_grad(put(backend, z), T, xp)
    s = softmax(z, axis=-1)
    assert_close(backend, value, float(np.mean(np.sum(-t * log_softmax(z, axis=-1), axis=1))), "float64")
    assert_close(backend, dZ, (s * t.sum(axis=1, keepdims=True) - t) / N, "float64")

    def fun_and_grad(theta):
        v, g = loss.value_and_grad(xp.reshape(theta, z.shape), T, xp)
        return v, xp.reshape(g, (-1,))

    res = check_gradient(fun_and_grad, put(backend, z.reshape(-1)), to_numpy=backend.backend.to_numpy)
    assert res.rel_diff < GRADCHECK_MAX, res.rel_diff


@pytest.mark.parametrize("name", ["mse", "mae", "quadratic"])
def test_regression_losses_cannot_take_logits(backend, name):
    loss = losses.get(name)
    Z = put(backend, np.zeros((2, 2)))
    with pytest.raises(TypeError):
        loss.logits_value_and_grad(Z, Z, backend.xp)


# -- lookup by name ------------------------------------------------------------------------

@pytest.mark.parametrize("spec, cls", [
    ("mse", losses.MeanSquaredError), ("mean_squared_error", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("mean_absolute_error", losses.MeanAbsoluteError),
    ("quadratic", losses.Quadratic),
    ("binary_crossentropy", losses.BinaryCrossentropy), ("bce", losses.BinaryCrossentropy),
    ("categorical_crossentropy", losses.CategoricalCrossentropy), ("cce", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
])
def test_get_resolves_names(backend, spec, cls):
    """get() maps names and aliases (case-insensitively) to the loss class, with its defaults."""
    loss = losses.get(spec)
    assert type(loss) is cls and not loss.from_logits
    kind = {losses.MeanSquaredError: "mse", losses.MeanAbsoluteError: "mae", losses.Quadratic: "quadratic",
            losses.BinaryCrossentropy: "bce", losses.CategoricalCrossentropy: "cce",
            losses.SparseCategoricalCrossentropy: "scce"}[cls]
    reduction = "sum" if kind in ("quadratic", "cce", "scce") else "mean"
    y, raw_t, t = _case_data(kind, seed=50)
    value, _ = loss.value_and_grad(put(backend, y), _prepare(backend, loss, raw_t, "float64"), backend.xp)
    assert_close(backend, value, ref_value_and_grad(_ref_kind(kind), y, t, reduction)[0], "float64")


def test_get_returns_a_loss_instance_unchanged(backend):
    loss = losses.BinaryCrossentropy(from_logits=True, output_reduction="sum")
    assert losses.get(loss) is loss


@pytest.mark.parametrize("bad, suggestion", [("binary_crossentropi", "binary_crossentropy"), ("msee", "mse")])
def test_get_unknown_name_suggests_the_closest(backend, bad, suggestion):
    with pytest.raises(UnknownNameError, match=f"Did you mean '{suggestion}'") as info:
        losses.get(bad)
    assert repr(bad) in str(info.value)


def test_unknown_loss_message_lists_known_losses(backend):
    """The message's list of choices is headed 'Known losses:' (plural of 'loss')."""
    with pytest.raises(UnknownNameError) as info:
        losses.get("nope")
    assert "Known losses:" in str(info.value), str(info.value)


@pytest.mark.parametrize("bad", [None, 3, losses.MeanSquaredError])
def test_get_rejects_non_strings(backend, bad):
    with pytest.raises(InputTypeError):
        losses.get(bad)


def test_bad_output_reduction_is_an_input_error(backend):
    with pytest.raises(InputError, match="'max'"):
        losses.BinaryCrossentropy(output_reduction="max")


# -- Keras' arguments: sample_weight, reduction, axis, ignore_class, label_smoothing --------

def _per_sample(kind: str, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Keras' per-sample (per-position) loss: mean (mse, bce) or sum (cce) over the last axis."""
    e, _ = _elementwise(kind, y, t)
    return e.sum(axis=-1) if kind == "cce" else e.mean(axis=-1)


def _ref_reduce(L: np.ndarray, w: np.ndarray | None, reduction: str) -> float:
    """Keras 3's reduce_weighted_values, written out."""
    wl = L * (1.0 if w is None else w)
    if reduction == "sum":
        return float(wl.sum())
    if reduction == "mean_with_sample_weight" and w is not None:
        return float(wl.sum() / np.broadcast_to(w, L.shape).sum())
    return float(wl.sum() / L.size)


WEIGHTED = [
    ("mse", lambda **kw: losses.MeanSquaredError(**kw), "mse"),
    ("mae", lambda **kw: losses.MeanAbsoluteError(**kw), "mae"),
    ("bce", lambda **kw: losses.BinaryCrossentropy(**kw), "bce"),
    ("cce", lambda **kw: losses.CategoricalCrossentropy(**kw), "cce"),
    ("scce", lambda **kw: losses.SparseCategoricalCrossentropy(**kw), "scce"),
]


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight"])
@pytest.mark.parametrize("cid, make, kind", WEIGHTED, ids=[w[0] for w in WEIGHTED])
def test_sample_weight_and_reduction(backend, dtype, cid, make, kind, reduction):
    """value_and_grad with per-sample weights gives Keras' weighted reduction; the gradient is
    that value's (central differences in float64)."""
    loss = make(reduction=reduction)
    y, raw_t, t = _case_data(kind, seed=60)
    w = np.random.default_rng(61).uniform(0.0, 2.0, size=N)
    T = _prepare(backend, loss, raw_t, dtype)
    value, dY = loss.value_and_grad(put(backend, y, dtype), T, backend.xp, sample_weight=put(backend, w, dtype))
    same_place_0d(backend, value, dtype)
    same_place(backend, dY, dtype)
    want = _ref_reduce(_per_sample(_ref_kind(kind), y, t), w, reduction)
    assert_close(backend, value, want, dtype, scale=10.0 if dtype == "float32" else 1.0)  # y, w rounded to float32
    # the direct call with host weights gives the same number
    assert_close(backend, loss(put(backend, raw_t), put(backend, y, dtype), sample_weight=w), want, dtype,
                 scale=10.0 if dtype == "float32" else 1.0)
    Tg = _prepare(backend, loss, raw_t, "float64")
    if kind in ("bce", "cce", "scce"):
        y = _probs(seed=62, low=0.3, high=0.7)
    wd = put(backend, w)

    def fun_and_grad(theta):
        v, g = loss.value_and_grad(backend.xp.reshape(theta, y.shape), Tg, backend.xp, sample_weight=wd)
        return v, backend.xp.reshape(g, (-1,))

    res = check_gradient(fun_and_grad, put(backend, y.reshape(-1)), to_numpy=backend.backend.to_numpy)
    assert res.rel_diff < GRADCHECK_MAX, res.rel_diff


def test_reduction_none_gives_per_sample_losses_and_refuses_training(backend):
    loss = losses.CategoricalCrossentropy(reduction=None)
    y, _, t = _case_data("cce", seed=63)
    out = loss(put(backend, t), put(backend, y))
    assert out.shape == (N,)
    assert_close(backend, out, _per_sample("cce", y, t), "float64")
    with pytest.raises(InputError, match="reduction=None"):
        loss.value_and_grad(put(backend, y), put(backend, t), backend.xp)
    with pytest.raises(InputError, match="'maximum'"):
        losses.MeanSquaredError(reduction="maximum")


@pytest.mark.parametrize("logits", [False, True], ids=["probs", "logits"])
def test_sequences_average_over_every_position(backend, dtype, logits):
    """(batch, time, classes): one loss per position, averaged over batch * time (not twice that)."""
    rng = np.random.default_rng(64)
    z = rng.normal(size=(3, 5, K))
    lab = rng.integers(0, K, size=(3, 5))
    t = np.eye(K)[lab]
    y = z if logits else softmax(z, axis=-1)
    rows = -np.sum(t * (log_softmax(z, axis=-1)), axis=-1)
    for loss, targets in ((losses.CategoricalCrossentropy(from_logits=logits), t),
                          (losses.SparseCategoricalCrossentropy(from_logits=logits), lab)):
        value = loss(put(backend, targets), put(backend, y, dtype))
        assert_close(backend, value, rows.mean(), dtype)
    b = (rng.uniform(size=(3, 5, 2)) < 0.5).astype(float)
    p = expit(rng.normal(size=(3, 5, 2)))
    assert_close(backend, losses.BinaryCrossentropy()(put(backend, b), put(backend, p, dtype)),
                 np.mean(-(b * np.log(p) + (1 - b) * np.log(1 - p))), dtype)


def test_axis_moves_the_class_axis(backend):
    """CCE(axis=1) on (n, k, h) equals CCE on the classes-last layout; its gradient comes back
    in the caller's layout and passes the gradient check."""
    rng = np.random.default_rng(65)
    p = rng.uniform(0.1, 1.0, size=(2, K, 3))
    t = np.eye(K)[rng.integers(0, K, size=(2, 3))]  # (2, 3, K)
    t_first = np.moveaxis(t, -1, 1)
    loss = losses.CategoricalCrossentropy(axis=1)
    ref_rows = _per_sample("cce", np.moveaxis(p, 1, -1), t)
    value, dY = loss.value_and_grad(put(backend, p), put(backend, t_first), backend.xp)
    assert dY.shape == p.shape
    assert_close(backend, value, ref_rows.mean(), "float64")
    T = put(backend, t_first)

    def fun_and_grad(theta):
        v, g = loss.value_and_grad(backend.xp.reshape(theta, p.shape), T, backend.xp)
        return v, backend.xp.reshape(g, (-1,))

    assert check_gradient(fun_and_grad, put(backend, p.reshape(-1)), to_numpy=backend.backend.to_numpy).rel_diff \
        < GRADCHECK_MAX
    assert losses.CategoricalCrossentropy(axis=1).fuses_with == "softmax(axis=1)"
    assert losses.CategoricalCrossentropy().fuses_with == "softmax"


@pytest.mark.parametrize("logits", [False, True], ids=["probs", "logits"])
def test_ignore_class_leaves_positions_out(backend, dtype, logits):
    """Labels equal to ignore_class add nothing and the mean runs over the other positions;
    their rows get no gradient; labels shaped like an image (n, h, w) are taken as they are."""
    rng = np.random.default_rng(66)
    z = rng.normal(size=(2, 3, 4, K))
    lab = rng.integers(0, K, size=(2, 3, 4))
    lab[0, 0, :2] = 255
    lab[1, 2, 3] = 255
    keep = lab != 255
    y = z if logits else softmax(z, axis=-1)
    loss = losses.SparseCategoricalCrossentropy(from_logits=logits, ignore_class=255)
    T = loss._call_targets(put(backend, lab), put(backend, y, dtype), backend.xp)
    assert T.shape == y.shape
    value, dY = loss.value_and_grad(put(backend, y, dtype), T, backend.xp)
    rows = -log_softmax(z, axis=-1)[np.arange(2)[:, None, None], np.arange(3)[None, :, None],
                                     np.arange(4)[None, None, :], np.where(keep, lab, 0)]
    assert_close(backend, value, rows[keep].mean(), dtype)
    assert np.all(get(backend, dY)[~keep] == 0)
    assert_close(backend, loss(put(backend, lab), put(backend, y, dtype)), rows[keep].mean(), dtype)


@pytest.mark.parametrize("cid", ["bce", "cce"])
def test_label_smoothing_value_and_gradient(backend, cid):
    """Smoothed targets: t (1 - s) + s/2 (binary) or + s/k (categorical), as Keras; gradient checks."""
    s = 0.2
    z, _, t = _logit_data(cid, seed=67, scale=1.5)
    smooth = t * (1 - s) + (0.5 * s if cid == "bce" else s / K)
    for from_logits in (True, False):
        make = losses.BinaryCrossentropy if cid == "bce" else losses.CategoricalCrossentropy
        loss = make(from_logits=from_logits, label_smoothing=s)
        if from_logits:
            y, want = z, _ref_logits(cid, z, smooth, "mean" if cid == "bce" else "sum")[0]
        else:  # probabilities well inside the clip bounds, rows not summing to one
            y = _probs(seed=68, low=0.2, high=0.8)
            want = float(_per_sample(cid, y, smooth).mean())
        value, _ = loss.value_and_grad(put(backend, y), put(backend, t), backend.xp)
        assert_close(backend, value, want, "float64")
        T = put(backend, t)

        def fun_and_grad(theta, loss=loss, y=y):
            v, g = loss.value_and_grad(backend.xp.reshape(theta, y.shape), T, backend.xp)
            return v, backend.xp.reshape(g, (-1,))

        res = check_gradient(fun_and_grad, put(backend, y.reshape(-1)), to_numpy=backend.backend.to_numpy)
        assert res.rel_diff < GRADCHECK_MAX, (from_logits, res.rel_diff)


@pytest.mark.parametrize("make, y_true, y_pred, match", [
    (losses.CategoricalCrossentropy, [[0], [1], [2]], np.full((3, 3), 1 / 3), "same shape"),
    (losses.BinaryCrossentropy, [[0], [1], [1]], np.full((3, 3), 0.5), "integer class labels"),
    (losses.MeanSquaredError, np.zeros((3, 1)), np.zeros((3, 3)), r"\(3, 1\)"),
    (losses.MeanSquaredError, np.zeros((4,)), np.zeros((3, 4)), r"\(4,\)"),
    (losses.SparseCategoricalCrossentropy, [[0], [0]], np.full((1, 2, 3), 1 / 3), r"\(1, 2\)"),
    (losses.SparseCategoricalCrossentropy, [0, 3], np.full((2, 3), 1 / 3), "0..2"),
    (losses.SparseCategoricalCrossentropy, [0.5, 1], np.full((2, 3), 1 / 3), "non-integer"),
], ids=["cce-labels", "bce-labels", "mse-column", "mse-row", "scce-broadcast", "scce-range", "scce-float"])
def test_shapes_keras_refuses_are_refused(backend, make, y_true, y_pred, match):
    """What Keras refuses with ValueError (and what it would broadcast into a wrong number)
    raises InputError naming both shapes."""
    with pytest.raises(InputError, match=match):
        make()(put(backend, np.asarray(y_true)), put(backend, y_pred))


def test_trailing_unit_axis_is_added_or_dropped(backend):
    """Keras' squeeze-or-expand: (n,) against (n, 1) and back are the same loss."""
    t, p = np.array([1.0, 0.0, 1.0]), np.array([0.9, 0.1, 0.8])
    bce = losses.BinaryCrossentropy()
    ref = float(np.mean(-(t * np.log(p) + (1 - t) * np.log(1 - p))))
    for yt, yp in ((t, p[:, None]), (t[:, None], p), (t, p)):
        assert_close(backend, bce(put(backend, yt), put(backend, yp)), ref, "float64")


@pytest.mark.parametrize("loss", [
    losses.MeanSquaredError(reduction="sum", name="m"), losses.MeanAbsoluteError(output_reduction="sum"),
    losses.Quadratic(reduction="mean"),
    losses.BinaryCrossentropy(True, 0.1, -1, "mean_with_sample_weight", output_reduction="sum"),
    losses.CategoricalCrossentropy(label_smoothing=0.2, axis=1, reduction=None),
    losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, axis=1, name="s"),
], ids=repr)
def test_config_rebuilds_the_same_loss(backend, loss):
    """get_config holds every argument: the class rebuilt from it is the same loss."""
    again = type(loss)(**loss.get_config())
    assert repr(again) == repr(loss) and again.get_config() == loss.get_config()
