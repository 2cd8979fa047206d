"""Conv layers follow Keras: weight layouts, initializer fans and output shapes, written out here."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import anynet as an

L = an.layers


def test_conv_kernel_is_glorot_uniform_with_keras_receptive_field_fans():
    m = an.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3), L.Conv2D(64, (3, 2), use_bias=False)], seed=5)
    W1, b1, W2 = m.build().get_weights()
    rng = np.random.default_rng(np.random.SeedSequence(5).spawn(3)[0])
    lim1 = math.sqrt(6 / (3 * 3 * 1 + 3 * 3 * 32))      # fan_in = kh*kw*in, fan_out = kh*kw*filters
    np.testing.assert_array_equal(W1, rng.uniform(-lim1, lim1, (3, 3, 1, 32)).astype(np.float32))
    np.testing.assert_array_equal(b1, np.zeros(32, np.float32))
    lim2 = math.sqrt(6 / (3 * 2 * 32 + 3 * 2 * 64))
    np.testing.assert_array_equal(W2, rng.uniform(-lim2, lim2, (3, 2, 32, 64)).astype(np.float32))


def _keras_out(n, k, s, padding, d=1):
    """Keras' conv_output_length, written out."""
    if padding == "same":
        return (n + s - 1) // s
    return (n - (k - 1) * d - 1 + s) // s


@pytest.mark.parametrize("k, s, d, padding", [(3, 1, 1, "valid"), (3, 2, 1, "same"), (5, 3, 1, "valid"),
                                              (3, 1, 2, "same"), (2, 2, 3, "valid"), (4, 3, 1, "same")])
def test_output_shapes_follow_keras(k, s, d, padding):
    layers = [L.Conv2D(7, k, strides=s, dilation_rate=d, padding=padding)]
    m = an.Sequential([L.Input((17, 13, 2)), *layers], seed=0).build()
    assert m.output_shape == (_keras_out(17, k, s, padding, d), _keras_out(13, k, s, padding, d), 7)
    p = an.Sequential([L.Input((17, 13, 2)), L.MaxPooling2D(k, strides=s, padding=padding)], seed=0).build()
    assert p.output_shape == (_keras_out(17, k, s, padding), _keras_out(13, k, s, padding), 2)


def test_pool_strides_default_to_the_pool_size_and_globals_drop_the_spatial_axes():
    assert L.MaxPooling2D((2, 3)).strides == (2, 3)
    assert L.AveragePooling1D(4).strides == (4,)
    m = an.Sequential([L.Input((9, 8, 5)), L.GlobalAveragePooling2D()], seed=0).build()
    assert m.output_shape == (5,)
    k = an.Sequential([L.Input((9, 8, 5)), L.GlobalMaxPooling2D(keepdims=True)], seed=0).build()
    assert k.output_shape == (1, 1, 5)


def test_summary_lists_conv_layers_with_keras_parameter_counts():
    m = an.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                       L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                       L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")], seed=0)
    lines = []
    m.build().summary(print_fn=lines.append)
    text = "\n".join(lines)
    # the Keras book's listing: 320, 18496, 36928, 36928, 650 parameters; 93,322 in all
    for row in (r"\(None, 26, 26, 32\)\s+320\b", r"\(None, 5, 5, 64\)", r"\(None, 3, 3, 64\)\s+36,?928\b",
                r"\(None, 576\)"):
        assert re.search(row, text), (row, text)
    assert "Total params: 93,322" in text


def test_scipy_adapter_trains_a_convnet_full_batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 8, 8, 1))
    y = (X[:, :4].sum(axis=(1, 2, 3)) > X[:, 4:].sum(axis=(1, 2, 3))).astype(np.int64)
    m = an.Sequential([L.Input((8, 8, 1)), L.Conv2D(4, 3, activation="tanh"), L.MaxPooling2D(2), L.Flatten(),
                       L.Dense(2, activation="softmax")], seed=0, dtype="float64")
    m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    before = m.evaluate(X, y, return_dict=True)["loss"]
    res = an.optimize.minimize(m, X, y, options={"maxiter": 60})
    assert res.fun < before / 2 and m.evaluate(X, y, return_dict=True)["accuracy"] > 0.9
