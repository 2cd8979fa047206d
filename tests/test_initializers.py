"""Initializers (host-side NumPy): Keras' distributions, fans, truncation, seeds, Orthogonal
and Identity, and configs that rebuild them. Statistical checks use large draws and
bounds far outside their sampling error."""

from __future__ import annotations

import math

import numpy as np
import pytest

import anynet as an
from anynet import initializers as I
from anynet.errors import InputError, InputTypeError

SHAPE = (400, 300)  # 120 000 draws: sample stds are within 0.5% of the truth


@pytest.mark.parametrize("init, var", [
    (I.GlorotUniform(), 2 / 700), (I.GlorotNormal(), 2 / 700), (I.HeUniform(), 2 / 400), (I.HeNormal(), 2 / 400),
    (I.LecunUniform(), 1 / 400), (I.LecunNormal(), 1 / 400),
    (I.VarianceScaling(3.0, "fan_out", "untruncated_normal"), 3 / 300),
    (I.VarianceScaling(0.5, "fan_avg", "uniform"), 0.5 / 350),
    (I.VarianceScaling(2.0, "fan_in", "normal"), 2 / 400),
], ids=repr)
def test_variance_scaling_variance(init, var):
    """Every variance-scaling initializer has mean 0 and variance scale / n (truncated normals
    too, thanks to the 0.8796 correction)."""
    w = init(SHAPE, np.random.default_rng(0))
    assert w.shape == SHAPE and w.dtype == np.float64
    assert abs(w.mean()) < 5 * math.sqrt(var / w.size)
    assert w.std() == pytest.approx(math.sqrt(var), rel=0.01)


@pytest.mark.parametrize("init, stddev", [
    (I.HeNormal(), math.sqrt(2 / 400) / I.TRUNCATED_STDDEV),
    (I.GlorotNormal(), math.sqrt(2 / 700) / I.TRUNCATED_STDDEV),
    (I.TruncatedNormal(0.5, 0.1), 0.1),
], ids=repr)
def test_truncated_normals_stop_at_two_stddev(init, stddev):
    """Keras' truncated normal: nothing beyond mean +- 2 stddev of the drawing distribution,
    and the tails right up to it are used."""
    w = init(SHAPE, np.random.default_rng(1))
    mean = getattr(init, "mean", 0.0)
    assert np.max(np.abs(w - mean)) <= 2 * stddev
    assert np.max(np.abs(w - mean)) > 1.99 * stddev


def test_truncation_constant_is_the_truncated_unit_normal_std():
    """0.87962566103423978 is the std of N(0, 1) conditioned on |x| <= 2 (written out)."""
    phi2 = math.exp(-2.0) / math.sqrt(2 * math.pi)
    mass = math.erf(2 / math.sqrt(2))
    assert math.sqrt(1 - 2 * 2 * phi2 / mass) == pytest.approx(I.TRUNCATED_STDDEV, rel=1e-15)


def test_uniform_limits():
    w = I.HeUniform()((50, 40), np.random.default_rng(2))
    limit = math.sqrt(6 / 50)
    assert np.all(np.abs(w) <= limit) and np.max(np.abs(w)) > 0.95 * limit


def test_fans_come_from_the_shape_when_not_given():
    """Keras' compute_fans: (n_in, n_out) for matrices, times the receptive field for kernels."""
    assert I.compute_fans((5, 7)) == (5, 7)
    assert I.compute_fans((3, 3, 4, 8)) == (36, 72)
    assert I.compute_fans((6,)) == (6, 6)
    w = I.VarianceScaling(1.0, "fan_in", "uniform", seed=3)((3, 3, 40, 80))
    assert np.max(np.abs(w)) <= math.sqrt(3 / 360)


def test_seed_gives_the_same_values_at_every_call():
    """As in Keras: a seeded initializer repeats itself (and ignores the model's generator);
    an unseeded one draws from the generator it is given."""
    for init in (I.RandomNormal(seed=7), I.GlorotNormal(seed=7), I.Orthogonal(seed=7), I.RandomUniform(seed=7),
                 I.TruncatedNormal(seed=7), I.VarianceScaling(seed=7)):
        a = init((6, 5))
        np.testing.assert_array_equal(a, init((6, 5), np.random.default_rng(99)))
        np.testing.assert_array_equal(a, type(init)(**init.get_config())((6, 5)))
    unseeded = I.GlorotNormal()
    np.testing.assert_array_equal(unseeded((6, 5), np.random.default_rng(4)),
                                  unseeded((6, 5), np.random.default_rng(4)))
    assert not np.array_equal(unseeded((6, 5), np.random.default_rng(4)), unseeded((6, 5), np.random.default_rng(5)))
    with pytest.raises(InputTypeError, match="seed"):
        I.HeNormal(seed=1.5)


@pytest.mark.parametrize("shape", [(5, 5), (8, 3), (3, 8), (2, 3, 4)])
def test_orthogonal(shape):
    """Keras' test: columns (or rows, when there are fewer rows) are orthonormal times gain."""
    w = I.Orthogonal(gain=2.0, seed=1234)(shape).reshape(-1, shape[-1])
    gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-12)
    with pytest.raises(InputError, match="two or more axes"):
        I.Orthogonal()((4,))


def test_identity():
    np.testing.assert_array_equal(I.Identity(gain=3.0)((3, 4)), 3.0 * np.eye(3, 4))
    with pytest.raises(InputError, match="2-D"):
        I.Identity()((2, 2, 2))


@pytest.mark.parametrize("bad, match", [
    (lambda: I.VarianceScaling(scale=-1.0), "scale"), (lambda: I.VarianceScaling(mode="fan"), "mode"),
    (lambda: I.VarianceScaling(distribution="gamma"), "distribution"),
])
def test_bad_arguments_are_refused(bad, match):
    with pytest.raises(InputError, match=match):
        bad()


@pytest.mark.parametrize("name, cls", [("orthogonal", I.Orthogonal), ("identity", I.Identity),
                                       ("truncated_normal", I.TruncatedNormal),
                                       ("variance_scaling", I.VarianceScaling), ("he_normal", I.HeNormal)])
def test_names(name, cls):
    assert type(I.get(name)) is cls


def test_a_model_with_seeded_and_orthogonal_initializers_saves_and_loads(tmp_path):
    L = an.layers
    m = an.Sequential([L.Dense(4, kernel_initializer=I.Orthogonal(gain=0.5, seed=3)),
                       L.Dense(2, kernel_initializer=I.VarianceScaling(2.0, "fan_avg", "uniform", seed=5),
                               bias_initializer=I.TruncatedNormal(stddev=0.1))], seed=0).build((3,))
    np.testing.assert_allclose(m.get_weights()[0], I.Orthogonal(gain=0.5, seed=3)((3, 4)), rtol=1e-6)
    m.save(tmp_path / "m.anynet")
    r = an.load(tmp_path / "m.anynet")
    assert repr(r.layers) == repr(m.layers)
    for a, b in zip(m.get_weights(), r.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- Keras' own initializer tests (random_initializers_test.py, constant_initializers_test.py) --

def test_keras_random_normal_and_uniform():
    """RandomNormal(0, 1, seed=1234) on (25, 20): std 1 within 0.1, same values per seed;
    RandomUniform(-1, 1) stays in [minval, maxval)."""
    init = I.RandomNormal(mean=0.0, stddev=1.0, seed=1234)
    values = init((25, 20))
    assert (init.mean, init.stddev, init.seed, values.shape) == (0.0, 1.0, 1234, (25, 20))
    assert abs(np.std(values) - 1.0) <= 0.1
    np.testing.assert_array_equal(values, I.RandomNormal(**init.get_config())((25, 20)))
    u = I.RandomUniform(minval=-1.0, maxval=1.0, seed=1234)((5, 5))
    assert u.min() >= -1.0 and u.max() < 1.0


@pytest.mark.parametrize("mode, n", [("fan_in", 25), ("fan_out", 20)])
def test_keras_variance_scaling(mode, n):
    """VarianceScaling(scale=2, seed=1234) on (25, 20): std sqrt(2 / n) within 0.1."""
    init = I.VarianceScaling(scale=2.0, seed=1234, mode=mode)
    values = init((25, 20))
    assert (init.scale, init.seed, values.shape) == (2.0, 1234, (25, 20))
    assert abs(np.std(values) - math.sqrt(2.0 / n)) <= 0.1


@pytest.mark.parametrize("init, want", [
    (I.Zeros(), np.zeros((3, 3))), (I.Ones(), np.ones((3, 3))), (I.Constant(value=6.0), np.full((3, 3), 6.0)),
    (I.Identity(gain=2), 2 * np.eye(3)),
], ids=repr)
def test_keras_constant_initializers(init, want):
    np.testing.assert_array_equal(init((3, 3)), want)
    np.testing.assert_array_equal(type(init)(**init.get_config())((3, 3)), want)
