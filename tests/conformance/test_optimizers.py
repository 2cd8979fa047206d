"""Optimizers and learning-rate schedules, checked on every backend and device.

Trajectories are compared with NumPy float64 references written here from Keras'
published formulas, independently of ``anynet.optimizers``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from anynet import optimizers
from anynet.backend import Placement
from anynet.errors import InputError, InputTypeError, UnknownNameError
from anynet.optimizers import SGD, Adam, AdamW, ExponentialDecay, RMSprop, StepDecay

from ._helpers import assert_close, get, put, same_place

STEPS = 5
N = 7
# Which entries of the flat vector are kernels (decayed by AdamW) and which are biases.
MASK = np.array([1, 1, 1, 1, 0, 0, 1], dtype=np.float64)


def _data(dtype: str, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A start vector and STEPS gradients, rounded to ``dtype`` so the reference sees the
    very inputs the backend gets, then widened to float64 for the reference."""
    rng = np.random.default_rng(seed)
    theta0 = rng.normal(size=N).astype(dtype).astype(np.float64)
    grads = [g.astype(dtype).astype(np.float64) for g in rng.normal(size=(STEPS, N))]
    return theta0, grads


def _const(lr: float):
    return lambda step: lr


# --- NumPy float64 references (Keras' formulas); each returns theta after every step ------

def ref_sgd(theta, grads, lr, momentum=0.0, nesterov=False):
    theta, v, out = theta.copy(), np.zeros_like(theta), []
    for step, g in enumerate(grads):
        a = lr(step)
        if momentum == 0.0:
            theta = theta - a * g
        else:
            v = momentum * v - a * g
            theta = theta + (momentum * v - a * g if nesterov else v)
        out.append(theta)
    return out


def ref_rmsprop(theta, grads, lr, rho=0.9, eps=1e-7, momentum=0.0, centered=False):
    """Keras' RMSprop: epsilon inside the square root (torch puts it outside)."""
    theta, s, mg, mom, out = theta.copy(), np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta), []
    for step, g in enumerate(grads):
        s = rho * s + (1 - rho) * g ** 2
        mg = rho * mg + (1 - rho) * g
        denominator = s - mg ** 2 + eps if centered else s + eps
        increment = lr(step) * g / np.sqrt(denominator)
        mom = momentum * mom + increment
        theta = theta - (mom if momentum else increment)
        out.append(theta)
    return out


def ref_adam(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-7, wd=0.0, mask=None, amsgrad=False):
    theta, m, v, out = theta.copy(), np.zeros_like(theta), np.zeros_like(theta), []
    vhat = np.zeros_like(theta)
    mask = np.ones_like(theta) if mask is None else mask
    for step, g in enumerate(grads):
        t = step + 1
        theta = theta - lr(step) * wd * theta * mask  # AdamW: decoupled decay first
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        vhat = np.maximum(vhat, v)
        lr_t = lr(step) * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        theta = theta - lr_t * m / (np.sqrt(vhat if amsgrad else v) + eps)
        out.append(theta)
    return out


# (id, optimizer factory taking a learning rate or schedule, reference taking lr(step)).
CASES = [
    ("sgd", lambda lr: SGD(lr), lambda th, gs, lr: ref_sgd(th, gs, lr)),
    ("momentum", lambda lr: SGD(lr, momentum=0.9), lambda th, gs, lr: ref_sgd(th, gs, lr, 0.9)),
    ("nesterov", lambda lr: SGD(lr, momentum=0.8, nesterov=True),
     lambda th, gs, lr: ref_sgd(th, gs, lr, 0.8, nesterov=True)),
    ("rmsprop", lambda lr: RMSprop(lr, rho=0.8), lambda th, gs, lr: ref_rmsprop(th, gs, lr, rho=0.8)),
    ("rmsprop-eps", lambda lr: RMSprop(lr, rho=0.9, epsilon=0.5),
     lambda th, gs, lr: ref_rmsprop(th, gs, lr, rho=0.9, eps=0.5)),
    ("adam", lambda lr: Adam(lr, beta_1=0.8, beta_2=0.95),
     lambda th, gs, lr: ref_adam(th, gs, lr, b1=0.8, b2=0.95)),
    ("adam-defaults", lambda lr: Adam(lr), lambda th, gs, lr: ref_adam(th, gs, lr)),
    ("rmsprop-momentum", lambda lr: RMSprop(lr, rho=0.8, momentum=0.5),
     lambda th, gs, lr: ref_rmsprop(th, gs, lr, rho=0.8, momentum=0.5)),
    ("rmsprop-centered", lambda lr: RMSprop(lr, centered=True, epsilon=1e-3),
     lambda th, gs, lr: ref_rmsprop(th, gs, lr, eps=1e-3, centered=True)),
    ("rmsprop-centered-momentum", lambda lr: RMSprop(lr, momentum=0.9, centered=True),
     lambda th, gs, lr: ref_rmsprop(th, gs, lr, momentum=0.9, centered=True)),
    ("adam-amsgrad", lambda lr: Adam(lr, beta_2=0.9, amsgrad=True),
     lambda th, gs, lr: ref_adam(th, gs, lr, b2=0.9, amsgrad=True)),
    # Keras decays every variable by default; the mask (kernels only) is an option.
    ("adamw", lambda lr: AdamW(lr, weight_decay=0.5), lambda th, gs, lr: ref_adam(th, gs, lr, wd=0.5)),
    ("adamw-kernels", lambda lr: AdamW(lr, weight_decay=0.5, decay_kernels_only=True),
     lambda th, gs, lr: ref_adam(th, gs, lr, wd=0.5, mask=MASK)),
    ("sgd-decay", lambda lr: SGD(lr, momentum=0.5, weight_decay=0.2),
     lambda th, gs, lr: ref_decayed(ref_sgd, th, gs, lr, 0.2, momentum=0.5)),
    ("rmsprop-decay-kernels", lambda lr: RMSprop(lr, weight_decay=0.3, decay_kernels_only=True),
     lambda th, gs, lr: ref_decayed(ref_rmsprop, th, gs, lr, 0.3, mask=MASK)),
]


def ref_decayed(ref, theta, grads, lr, wd, mask=None, **kw):
    """Keras' weight decay on any optimizer: theta -= lr * wd * theta (masked), then its step.
    SGD's and RMSprop's increments depend on the gradients only (fixed here), so each step's
    increment is the difference of the reference trajectory started from zero."""
    mask = np.ones_like(theta) if mask is None else mask
    zero = np.zeros_like(theta)
    path = [zero] + ref(zero, grads, lr, **kw)
    out, th = [], theta.copy()
    for k in range(len(grads)):
        th = th - lr(k) * wd * th * mask
        th = th + (path[k + 1] - path[k])
        out.append(th)
    return out
CASE_IDS = [c[0] for c in CASES]


def _run(backend: Placement, opt, theta0, grads, dtype, *, mask=MASK, kernels=None):
    """Step ``opt`` through ``grads`` on the backend; yield (theta, state) after each step."""
    theta = put(backend, theta0, dtype)
    state = opt.init(theta, backend.xp)
    decay_mask = put(backend, mask, dtype) if mask is not None else None
    for g in grads:
        opt.update(theta, put(backend, g, dtype), state, backend.xp, kernels=kernels, decay_mask=decay_mask)
        yield theta, state


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_trajectory_matches_the_keras_reference(backend: Placement, dtype: str, case):
    """Five steps with fixed gradients follow the float64 reference step by step."""
    _, make, ref = case
    theta0, grads = _data(dtype)
    expected = ref(theta0, grads, _const(0.1))
    for k, (theta, _) in enumerate(_run(backend, make(0.1), theta0, grads, dtype)):
        assert_close(backend, theta, expected[k], dtype, err_msg=f"step {k + 1}")


def test_adamw_without_mask_decays_every_entry(backend: Placement, dtype: str):
    """decay_mask=None decays biases too; the mask is what spares them."""
    theta0, grads = _data(dtype, seed=1)
    opt = AdamW(0.1, weight_decay=0.5)
    expected = ref_adam(theta0, grads, _const(0.1), wd=0.5, mask=None)
    for k, (theta, _) in enumerate(_run(backend, opt, theta0, grads, dtype, mask=None)):
        assert_close(backend, theta, expected[k], dtype, err_msg=f"step {k + 1}")
    masked = ref_adam(theta0, grads, _const(0.1), wd=0.5, mask=MASK)
    assert not np.allclose(expected[-1], masked[-1])  # the two cases really differ


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_update_is_in_place_and_keeps_dtype_device_and_counts_steps(backend: Placement, dtype: str, case):
    """theta and every state array are updated in place, on their device, in their dtype."""
    _, make, _ = case
    theta0, grads = _data(dtype)
    opt = make(0.1)
    theta = put(backend, theta0, dtype)
    view = theta[:]  # numpy and torch: a view sharing theta's memory
    state = opt.init(theta, backend.xp)
    assert state["iterations"] == 0
    slots = {k: v for k, v in state.items() if k != "iterations"}
    mask = put(backend, MASK, dtype)
    for k, g in enumerate(grads, start=1):
        before = get(backend, theta).copy()
        opt.update(theta, put(backend, g, dtype), state, backend.xp, decay_mask=mask)
        assert not np.array_equal(get(backend, theta), before), "theta did not change"
        assert state["iterations"] == k and type(state["iterations"]) is int
        same_place(backend, theta, dtype)
        assert theta.shape == (N,)
        assert set(state) == set(slots) | {"iterations"}
        for name, arr in slots.items():
            assert state[name] is arr, f"state[{name!r}] was replaced, not updated in place"
            same_place(backend, state[name], dtype)
    if backend.backend.name == "numpy":
        assert np.shares_memory(view, theta)
        np.testing.assert_array_equal(view, theta)
    elif backend.backend.name == "torch":
        assert view.data_ptr() == theta.data_ptr()
        np.testing.assert_array_equal(get(backend, view), get(backend, theta))


# --- schedules --------------------------------------------------------------------------

SCHEDULES = [
    ("exponential", lambda: ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5),
     lambda s: 0.1 * 0.5 ** (s / 3)),
    ("exponential-staircase", lambda: ExponentialDecay(0.1, decay_steps=3, decay_rate=0.5, staircase=True),
     lambda s: 0.1 * 0.5 ** (s // 3)),
    ("step", lambda: StepDecay(0.1, factor=0.25, step_size=2), lambda s: 0.1 * 0.25 ** (s // 2)),
]
SCHEDULE_IDS = [s[0] for s in SCHEDULES]


@pytest.mark.parametrize("sched", SCHEDULES, ids=SCHEDULE_IDS)
def test_schedule_values_per_step(backend: Placement, sched):
    """Each schedule gives Keras' value at steps 0..9, and an optimizer reports the same."""
    _, make, formula = sched
    schedule = make()
    opt = SGD(schedule)
    for s in range(10):
        assert schedule(s) == pytest.approx(formula(s), rel=1e-15), s
        assert opt.lr(s) == pytest.approx(formula(s), rel=1e-15), s
    assert schedule(0) == 0.1


@pytest.mark.parametrize("sched", SCHEDULES, ids=SCHEDULE_IDS)
@pytest.mark.parametrize("case", [c for c in CASES if c[0] in ("sgd", "nesterov", "adam", "adamw")],
                         ids=["sgd", "nesterov", "adam", "adamw"])
def test_optimizer_with_schedule_uses_lr_of_each_step(backend: Placement, dtype: str, sched, case):
    """An optimizer driven by a schedule follows the reference with lr(step) at each step."""
    _, make_sched, formula = sched
    _, make, ref = case
    theta0, grads = _data(dtype, seed=2)
    expected = ref(theta0, grads, formula)
    constant = ref(theta0, grads, _const(0.1))
    assert not np.allclose(expected[-1], constant[-1])  # the schedule matters over these steps
    for k, (theta, _) in enumerate(_run(backend, make(make_sched()), theta0, grads, dtype)):
        assert_close(backend, theta, expected[k], dtype, err_msg=f"step {k + 1}")


# --- fused kernels ----------------------------------------------------------------------

class _Recorder:
    """A fake fused kernel: records each call and changes nothing."""

    def __init__(self):
        self.calls = []

    def __call__(self, theta, g, state, **hyper):
        self.calls.append((theta, g, state, hyper))


@pytest.mark.parametrize("make,key", [
    (lambda: SGD(ExponentialDecay(0.1, 1, 0.5)), "sgd_update"),
    (lambda: SGD(ExponentialDecay(0.1, 1, 0.5), momentum=0.9), "sgd_update"),
    (lambda: RMSprop(ExponentialDecay(0.1, 1, 0.5)), "rmsprop_update"),
    (lambda: Adam(ExponentialDecay(0.1, 1, 0.5)), "adam_update"),
], ids=["sgd", "momentum", "rmsprop", "adam"])
def test_fused_kernel_replaces_the_portable_code(backend: Placement, make, key):
    """kernels[f"{name}_update"] is called with (theta, g, state, lr=lr(step), ...) instead."""
    opt = make()
    theta0, grads = _data("float64")
    theta = put(backend, theta0)
    state = opt.init(theta, backend.xp)
    fake, other = _Recorder(), _Recorder()
    kernels = {key: fake, "unrelated_update": other}
    for g in grads[:3]:
        gb = put(backend, g)
        opt.update(theta, gb, state, backend.xp, kernels=kernels)
        t, gg, st, hyper = fake.calls[-1]
        assert t is theta and gg is gb and st is state
        step = state["iterations"] - 1  # the step just taken
        assert hyper["lr"] == pytest.approx(0.1 * 0.5 ** step, rel=1e-15)
    assert len(fake.calls) == 3 and not other.calls
    assert state["iterations"] == 3
    np.testing.assert_array_equal(get(backend, theta), theta0)  # the portable code did not run
    if key == "adam_update":
        for step, (_, _, _, h) in enumerate(fake.calls):
            t = step + 1
            assert h["lr_t"] == pytest.approx(h["lr"] * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t), rel=1e-14)
            assert (h["beta_1"], h["beta_2"], h["epsilon"]) == (0.9, 0.999, 1e-7)


def test_a_kernel_for_another_optimizer_is_not_used(backend: Placement):
    """SGD ignores an "adam_update" kernel and runs its portable code."""
    theta0, grads = _data("float64")
    fake = _Recorder()
    theta = next(_run(backend, SGD(0.1), theta0, grads[:1], "float64", kernels={"adam_update": fake}))[0]
    assert not fake.calls
    assert_close(backend, theta, theta0 - 0.1 * grads[0], "float64")


# --- validation -------------------------------------------------------------------------

@pytest.mark.parametrize("make,bad,error", [
    (lambda v: SGD(v), -0.1, InputError),
    (lambda v: SGD(v), 0.0, InputError),
    (lambda v: SGD(v), 0, InputError),
    (lambda v: Adam(v), float("nan"), InputError),
    (lambda v: RMSprop(v), float("inf"), InputError),
    (lambda v: SGD(v), "abc", InputTypeError),
    (lambda v: Adam(v), None, InputTypeError),
    (lambda v: SGD(v), [0.1], InputTypeError),
    (lambda v: SGD(v), 1j, InputTypeError),
    # InputTypeError's contract names str as a type anynet cannot use, so a numeric string
    # is refused too rather than silently parsed.
    (lambda v: AdamW(v), "0.01", InputTypeError),
    (lambda v: ExponentialDecay(v, 10, 0.5), -1.0, InputError),
    (lambda v: StepDecay(v), 0.0, InputError),
], ids=["neg", "zero", "int-zero", "nan", "inf", "str", "none", "list", "complex", "numeric-str",
        "schedule-neg", "stepdecay-zero"])
def test_bad_learning_rate_is_refused(backend: Placement, make, bad, error):
    """A learning rate that is not a finite positive number raises and quotes the value."""
    with pytest.raises(error) as exc:
        make(bad)
    assert repr(bad) in str(exc.value), str(exc.value)


@pytest.mark.parametrize("make,bad", [
    (lambda v: SGD(0.1, momentum=v), 1.0),
    (lambda v: SGD(0.1, momentum=v), 1.5),
    (lambda v: SGD(0.1, momentum=v), -0.1),
    (lambda v: SGD(0.1, momentum=v, nesterov=True), float("nan")),
    (lambda v: RMSprop(rho=v), 1.0),
    (lambda v: Adam(beta_1=v), -0.5),
    (lambda v: Adam(beta_2=v), 1.0),
    (lambda v: AdamW(weight_decay=v), -0.01),
    (lambda v: ExponentialDecay(0.1, v, 0.5), 0),
    (lambda v: ExponentialDecay(0.1, v, 0.5), -3),
    (lambda v: StepDecay(0.1, step_size=v), 0),
    (lambda v: ExponentialDecay(0.1, 10, v), 0.0),
], ids=["momentum-1", "momentum-1.5", "momentum-neg", "momentum-nan", "rho-1", "beta1-neg", "beta2-1",
        "weight-decay-neg", "decay-steps-0", "decay-steps-neg", "step-size-0",
        "decay-rate-0"])
def test_out_of_range_hyperparameter_is_refused(backend: Placement, make, bad):
    """Out-of-range values raise InputError (also a ValueError) quoting the value."""
    with pytest.raises(InputError) as exc:
        make(bad)
    assert isinstance(exc.value, ValueError)
    assert repr(bad) in str(exc.value), str(exc.value)


@pytest.mark.parametrize("make,bad", [
    (lambda v: ExponentialDecay(0.1, v, 0.5), 0.5),  # a step count is an int, like batch_size
    (lambda v: SGD(0.1, momentum=v), "high"),
    (lambda v: SGD(0.1, momentum=v), None),
    (lambda v: Adam(beta_1=v), "0.9x"),
    (lambda v: AdamW(weight_decay=v), "lots"),
    (lambda v: ExponentialDecay(0.1, v, 0.5), "ten"),
    (lambda v: StepDecay(0.1, step_size=v), None),
], ids=["decay-steps-half", "momentum-str", "momentum-none", "beta1-str", "weight-decay-str", "decay-steps-str",
        "step-size-none"])
def test_non_number_hyperparameter_is_refused(backend: Placement, make, bad):
    """A non-number hyperparameter raises InputTypeError quoting it (errors.py: every error
    a user can cause with bad input is an AnynetError), not a bare TypeError/ValueError."""
    with pytest.raises(InputTypeError) as exc:
        make(bad)
    assert repr(bad) in str(exc.value), str(exc.value)


def test_get_by_name_and_unknown_name(backend: Placement):
    """get() maps names to fresh optimizers, passes instances through, and suggests on typos."""
    assert type(optimizers.get("adam")) is Adam
    assert type(optimizers.get("SGD")) is SGD
    assert type(optimizers.get("rmsprop")) is RMSprop
    assert type(optimizers.get("adamw")) is AdamW
    opt = SGD(0.3)
    assert optimizers.get(opt) is opt
    with pytest.raises(UnknownNameError) as exc:
        optimizers.get("adamm")
    msg = str(exc.value)
    assert "'adamm'" in msg and "Did you mean 'adam'?" in msg, msg
    with pytest.raises(InputTypeError) as exc:
        optimizers.get(3)
    assert "3" in str(exc.value)


# --- copyable state (the training loop's replay) ----------------------------------------

def _copy(backend: Placement, theta, state):
    xp = backend.xp
    return xp.asarray(theta, copy=True), {k: (v if k == "iterations" else xp.asarray(v, copy=True))
                                          for k, v in state.items()}


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_restored_state_replays_bit_identically(backend: Placement, dtype: str, case):
    """Copy theta and state, step, restore the copy and step again: the same bits."""
    _, make, _ = case
    opt = make(ExponentialDecay(0.1, 2, 0.7))
    theta0, grads = _data(dtype, seed=3)
    xp = backend.xp
    mask = put(backend, MASK, dtype)
    gs = [put(backend, g, dtype) for g in grads]
    theta = put(backend, theta0, dtype)
    state = opt.init(theta, xp)
    for g in gs[:2]:
        opt.update(theta, g, state, xp, decay_mask=mask)
    snap_theta, snap_state = _copy(backend, theta, state)
    kept = (get(backend, snap_theta).copy(), {k: get(backend, v).copy() for k, v in snap_state.items()
                                              if k != "iterations"})
    for g in gs[2:]:
        opt.update(theta, g, state, xp, decay_mask=mask)
    first = get(backend, theta).copy(), {k: get(backend, v).copy() for k, v in state.items() if k != "iterations"}
    # the snapshot was not touched by the steps after it
    np.testing.assert_array_equal(get(backend, snap_theta), kept[0])
    for k, v in kept[1].items():
        np.testing.assert_array_equal(get(backend, snap_state[k]), v, err_msg=k)
    assert snap_state["iterations"] == 2 and state["iterations"] == STEPS

    theta, state = snap_theta, snap_state  # restore, as the fit loop does
    for g in gs[2:]:
        opt.update(theta, g, state, xp, decay_mask=mask)
    assert state["iterations"] == STEPS
    np.testing.assert_array_equal(get(backend, theta), first[0])
    for k, v in first[1].items():
        np.testing.assert_array_equal(get(backend, state[k]), v, err_msg=k)
        same_place(backend, state[k], dtype)
    same_place(backend, theta, dtype)


# --- Keras' arguments: clipping, weight decay, kernels gated by options --------------------

SEGMENTS = [(0, 3), (3, 5), (5, 7)]


def ref_clip(g, how, c, segments=SEGMENTS):
    """Keras' _clip_gradients: by value, by the global norm, or each variable by its norm."""
    if how == "clipvalue":
        return np.clip(g, -c, c)
    if how == "global_clipnorm":
        return g * c / max(np.linalg.norm(g), c)
    return np.concatenate([g[a:b] * c / max(np.linalg.norm(g[a:b]), c) for a, b in segments])


@pytest.mark.parametrize("how", ["clipvalue", "global_clipnorm", "clipnorm"])
@pytest.mark.parametrize("make, ref", [
    (SGD, lambda th, gs, lr: ref_sgd(th, gs, lr)), (RMSprop, lambda th, gs, lr: ref_rmsprop(th, gs, lr)),
    (Adam, lambda th, gs, lr: ref_adam(th, gs, lr)),
], ids=["sgd", "rmsprop", "adam"])
def test_clipping_follows_keras(backend: Placement, dtype: str, how, make, ref):
    """The step sees the clipped gradient: by value, by global norm, or per variable."""
    theta0, grads = _data(dtype, seed=4)
    grads = [3 * g for g in grads]  # large enough that every kind of clipping bites
    c = 0.7
    clipped = [ref_clip(g, how, c) for g in grads]
    assert not np.allclose(clipped[0], grads[0])
    expected = ref(theta0, clipped, _const(0.1))
    opt = make(0.1, **{how: c})
    theta = put(backend, theta0, dtype)
    state = opt.init(theta, backend.xp)
    for k, g in enumerate(grads):
        opt.update(theta, put(backend, g, dtype), state, backend.xp, segments=SEGMENTS)
        assert_close(backend, theta, expected[k], dtype, err_msg=f"step {k + 1}")


def test_clip_and_decay_options_are_checked(backend: Placement):
    with pytest.raises(InputError, match="Only one of"):
        SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(InputError, match="clipnorm"):
        Adam(clipnorm=-1.0)
    with pytest.raises(InputError, match="weight_decay"):
        AdamW(weight_decay=None)
    opt = SGD(0.1, clipnorm=1.0)
    assert opt.needs_segments and not opt.needs_decay_mask
    theta = put(backend, np.ones(N))
    state = opt.init(theta, backend.xp)
    with pytest.raises(InputError, match="segments"):
        opt.update(theta, put(backend, np.ones(N)), state, backend.xp)
    opt = RMSprop(weight_decay=0.1, decay_kernels_only=True)
    assert opt.needs_decay_mask
    with pytest.raises(InputError, match="decay_mask"):
        opt.update(theta, put(backend, np.ones(N)), opt.init(theta, backend.xp), backend.xp)


@pytest.mark.parametrize("make, key, fused", [
    (lambda: SGD(0.1, momentum=0.5, clipvalue=0.5), "sgd_update", True),
    (lambda: RMSprop(0.1, weight_decay=0.1), "rmsprop_update", True),
    (lambda: RMSprop(0.1, momentum=0.5), "rmsprop_update", False),
    (lambda: RMSprop(0.1, centered=True), "rmsprop_update", False),
    (lambda: Adam(0.1, amsgrad=True), "adam_update", False),
    (lambda: AdamW(0.1), "adam_update", True),
], ids=["sgd-clipped", "rmsprop-decay", "rmsprop-momentum", "rmsprop-centered", "adam-amsgrad", "adamw"])
def test_kernels_run_only_for_what_they_compute(backend: Placement, make, key, fused):
    """A kernel gets the step when its formula is the step (it sees the clipped gradient and
    the decayed theta); options it does not compute (momentum or centered RMSprop, AMSGrad)
    keep the portable code."""
    opt = make()
    theta0, grads = _data("float64", seed=5)
    theta = put(backend, theta0.copy())  # from_numpy may share memory with theta0
    state = opt.init(theta, backend.xp)
    fake = _Recorder()
    g = put(backend, 3 * grads[0])
    opt.update(theta, g, state, backend.xp, kernels={key: fake})
    assert bool(fake.calls) == fused
    if fused:
        _, gg, _, hyper = fake.calls[0]
        assert_close(backend, gg, ref_clip(3 * grads[0], "clipvalue", 0.5) if opt.clipvalue else 3 * grads[0],
                     "float64")
        want = {"sgd_update": {"lr", "momentum", "nesterov"}, "rmsprop_update": {"lr", "rho", "epsilon"},
                "adam_update": {"lr", "lr_t", "beta_1", "beta_2", "epsilon"}}[key]
        assert set(hyper) == want
    else:
        assert not np.array_equal(get(backend, theta), theta0)


@pytest.mark.parametrize("opt", [
    SGD(0.5, momentum=0.06, nesterov=True, weight_decay=0.004, clipnorm=1.0),
    RMSprop(0.5, rho=0.8, momentum=0.05, epsilon=1e-6, centered=True, global_clipnorm=2.0),
    Adam(0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5, amsgrad=True, clipvalue=0.1),
    AdamW(0.5, weight_decay=0.008, amsgrad=True, decay_kernels_only=True),
    Adam(ExponentialDecay(0.1, 3, 0.5)),
], ids=lambda o: type(o).__name__)
def test_config_rebuilds_the_same_optimizer(backend: Placement, opt):
    """Every argument appears in get_config (Keras' test_config), so saving round-trips."""
    config = opt.get_config()
    if isinstance(opt.learning_rate, optimizers.Schedule):  # saving encodes a schedule as an object
        config["learning_rate"] = opt.learning_rate
    again = type(opt)(**config)
    assert repr(again) == repr(opt)
    assert again._slots == opt._slots
