"""Bad input to the convolution, pooling, reshape and augmentation layers: a clear error at
construction or build time that names the layer and the shapes."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.errors import InputError, InputTypeError

L = an.layers


def _build(layers, shape):
    return an.Sequential(layers, seed=0).build(shape)


CASES = [
    ("kernel larger than the input", lambda: _build([L.Conv2D(8, 5)], (3, 3, 64)), InputError,
     r"Conv2D\(8, kernel_size=\(5, 5\)\): the kernel \(5, 5\) is larger than the input, samples of shape "
     r"\(3, 3, 64\) with padding='valid'; use a smaller kernel, padding='same'"),
    ("dilated kernel larger than the input", lambda: _build([L.Conv2D(8, 3, dilation_rate=3)], (6, 6, 1)), InputError,
     r"kernel \(3, 3\) \(dilated to \(7, 7\)\) is larger than the input"),
    ("pool larger than the input", lambda: _build([L.MaxPooling2D(3)], (2, 2, 4)), InputError,
     r"MaxPooling2D\(pool_size=\(3, 3\), strides=\(3, 3\)\): the pool_size \(3, 3\) is larger than the input, "
     r"samples of shape \(2, 2, 4\)"),
    ("zero strides", lambda: L.Conv2D(8, 3, strides=0), InputError, r"Conv2D\(8, \(3, 3\)\): strides must be positive, got strides=0"),
    ("negative strides", lambda: L.Conv2D(8, 3, strides=(1, -2)), InputError, r"strides must be positive, got strides=\(1, -2\)"),
    ("zero pool size", lambda: L.MaxPooling2D(0), InputError, r"MaxPooling2D: pool_size must be positive, got pool_size=0"),
    ("negative pool strides", lambda: L.AveragePooling2D(2, strides=-1), InputError, r"strides must be positive, got strides=-1"),
    ("zero kernel", lambda: L.Conv2D(8, 0), InputError, r"kernel_size must be positive, got kernel_size=0"),
    ("kernel of three axes", lambda: L.Conv2D(8, (3, 3, 3)), InputTypeError,
     r"kernel_size must be an int or a tuple of 2 ints, got kernel_size=\(3, 3, 3\)"),
    ("string kernel", lambda: L.Conv2D(8, "3"), InputTypeError, r"kernel_size must be an int or a tuple of 2 ints, got kernel_size='3'"),
    ("no filters", lambda: L.Conv2D(0, 3), InputError, r"Conv2D\(filters\) needs a positive int, got filters=0"),
    ("padding full", lambda: L.Conv2D(8, 3, padding="full"), InputError,
     r"padding must be one of 'valid', 'same', got padding='full' \('full' is not a Keras padding"),
    ("unknown padding", lambda: L.MaxPooling2D(2, padding="reflect"), InputError,
     r"MaxPooling2D: padding must be one of 'valid', 'same', got padding='reflect'"),
    ("causal padding in 2-D", lambda: L.Conv2D(8, 3, padding="causal"), InputError, r"got padding='causal'"),
    ("2-D samples to Conv2D", lambda: _build([L.Conv2D(8, 3)], (28, 28)), InputError,
     r"Conv2D\(8, kernel_size=\(3, 3\)\) expects samples of shape \(height, width, channels\) \(channels last\), "
     r"got samples of shape \(28, 28\); add a channels axis: X\[\.\.\., None\] gives samples of shape \(28, 28, 1\)"),
    ("flat samples to Conv2D", lambda: _build([L.Conv2D(8, 3)], (784,)), InputError,
     r"got samples of shape \(784,\); for square grey images use Reshape\(\(28, 28, 1\)\)"),
    ("channels-first samples", lambda: _build([L.Conv2D(8, 3)], (1, 28, 28)), InputError,
     r"samples of shape \(1, 28, 28\) look channels first .*anynet is channels last.*"
     r"X = np.transpose\(X, \(0, 2, 3, 1\)\) gives samples of shape \(28, 28, 1\)"),
    ("channels-first RGB to pooling", lambda: _build([L.MaxPooling2D(2)], (3, 32, 32)), InputError, r"look channels first"),
    ("channels_first data_format", lambda: L.Conv2D(8, 3, data_format="channels_first"), InputError,
     r"anynet is channels last .*np.transpose\(X, \(0, 2, 3, 1\)\)"),
    ("bad data_format", lambda: L.GlobalMaxPooling2D(data_format="NHWC"), InputError,
     r"GlobalMaxPooling2D: data_format must be 'channels_last' \(or None\), got 'NHWC'"),
    ("3-D samples to Conv1D", lambda: _build([L.Conv1D(8, 3)], (28, 28, 1)), InputError,
     r"Conv1D\(8, kernel_size=\(3,\)\) expects samples of shape \(steps, channels\)"),
    ("reshape that does not fit", lambda: _build([L.Reshape((5, 5))], (784,)), InputError,
     r"Reshape\(\(5, 5\)\) cannot hold samples of shape \(784,\) \(784 values\)"),
    ("reshape with two -1", lambda: L.Reshape((-1, -1)), InputError, r"at most one -1"),
    ("reshape -1 that does not divide", lambda: _build([L.Reshape((-1, 5))], (12,)), InputError,
     r"Reshape\(\(-1, 5\)\) cannot hold samples of shape \(12,\)"),
    ("translation factor above 1", lambda: L.RandomTranslation(1.5, 0.1), InputError,
     r"height_factor must be a fraction f in \[0, 1\].*got height_factor=1.5"),
    ("translation bounds reversed", lambda: L.RandomTranslation(0.1, (0.2, -0.2)), InputError,
     r"got width_factor=\(0.2, -0.2\)"),
    ("bilinear translation", lambda: L.RandomTranslation(0.1, 0.1, interpolation="bilinear"), InputError,
     r"interpolation must be 'nearest', got 'bilinear'"),
    ("unknown fill mode", lambda: L.RandomTranslation(0.1, 0.1, fill_mode="mirror"), InputError,
     r"fill_mode must be one of .*got 'mirror'"),
    ("translation of flat samples", lambda: _build([L.RandomTranslation(0.1, 0.1)], (784,)), InputError,
     r"RandomTranslation expects samples of shape \(height, width, channels\)"),
    ("Lp pooling below 1", lambda: L.LPPooling2D(0.5), InputError, r"norm_type must be a number >= 1, got norm_type=0.5"),
]


@pytest.mark.parametrize("what, make, error, message", CASES, ids=[c[0] for c in CASES])
def test_bad_layer_input_is_refused_clearly(what, make, error, message):
    with pytest.raises(error, match=message):
        make()


def _image_model():
    m = an.Sequential([L.Input((28, 28, 1)), L.Conv2D(2, 3), L.Flatten(), L.Dense(2, activation="softmax")], seed=0)
    m.compile("sgd", "sparse_categorical_crossentropy")
    return m


@pytest.mark.parametrize("shape, hint", [((4, 1, 28, 28), r"anynet is channels last; transpose channels-first data "
                                                           r"with np.transpose\(X, \(0, 2, 3, 1\)\)"),
                                         ((4, 28, 28), r"Add the channels axis: X\[\.\.\., None\]"),
                                         ((4, 784), r"Reshape the rows into images: X.reshape\(-1, 28, 28, 1\)")])
def test_image_data_of_the_wrong_shape_says_how_to_fix_it(shape, hint):
    with pytest.raises(InputError, match=r"The model expects samples of shape \(28, 28, 1\), got X with shape "
                       + re_shape(shape) + r"\. " + hint):
        _image_model().predict(np.zeros(shape, np.float32))


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")
