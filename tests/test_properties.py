"""Property-based tests of the public entry points: any input either works (with finite
results) or raises a documented anynet error, a ValueError/TypeError with a message;
never an internal IndexError/AttributeError, a hang, or a silent NaN."""

from __future__ import annotations

import json
import math
import os
import struct
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import anynet as an
import anynet.optimize
from anynet import tensorfile
from anynet.errors import AnynetError, NonFiniteLossError, NonFiniteOutputError, SaveFileError

# Extreme inputs overflow on purpose, and mutated files may pair from_logits with softmax.
pytestmark = [pytest.mark.filterwarnings("error:overflow encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("error:invalid value encountered:RuntimeWarning"),
              pytest.mark.filterwarnings("ignore:.*from_logits=True:UserWarning")]

L = an.layers
# ANYNET_HYPOTHESIS_EXAMPLES=1000 searches harder than CI does.
FAST = settings(max_examples=int(os.environ.get("ANYNET_HYPOTHESIS_EXAMPLES", 50)), deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])

DTYPES = st.sampled_from(["float16", "float32", "float64", "int8", "int64", "uint8", "bool", "complex64"])


def arrays(max_dims=3, max_side=6):
    """Arrays of any common dtype and small shape, values including NaN, inf and extremes."""
    return DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0,
                                                                      max_side=max_side)))


def samples(n_features, dtype="float64"):
    """Well-shaped float samples whose values may still be extreme (up to the dtype's maximum)."""
    return hnp.arrays(dtype, st.tuples(st.integers(1, 8), st.just(n_features)),
                      elements=st.floats(allow_nan=False, allow_infinity=False, width=int(dtype[-2:])))


def _documented(exc: BaseException) -> None:
    """Assert an exception is one anynet documents: an AnynetError, ValueError/TypeError, with a message."""
    assert isinstance(exc, AnynetError), f"internal error {type(exc).__name__}: {exc}"
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__} is not a ValueError/TypeError"
    assert len(str(exc)) > 10


def _model(dtype="float32", loss="binary_crossentropy", units=1, activation="sigmoid", hidden="tanh"):
    m = an.Sequential([L.Dense(3, activation=hidden), L.Dense(units, activation=activation)], seed=0, dtype=dtype)
    m.compile(optimizer=an.optimizers.SGD(0.01), loss=loss, metrics=["accuracy"] if units > 1 or loss != "mse" else [])
    return m


@FAST
@given(X=st.one_of(arrays(), samples(4), samples(4, "float32")), dtype=st.sampled_from(["float32", "float64"]),
       linear=st.booleans(), build=st.booleans())
def test_predict_works_or_refuses(X, dtype, linear, build):
    m = _model(dtype, "mse", activation=None, hidden=None) if linear else _model(dtype)
    if build:
        m.build((4,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        try:
            Y = m.predict(X)
        except Exception as exc:  # noqa: BLE001 - the property is about which exceptions
            _documented(exc)
            return
    # Dense acts on the last axis (Keras), so an unbuilt model takes samples of any rank.
    assert Y.shape == (*X.shape[:-1], 1) and Y.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(Y)), "predict returned NaN/inf without saying so"


targets = st.sampled_from([("binary_crossentropy", 1, "sigmoid"), ("mse", 2, None),
                           ("sparse_categorical_crossentropy", 3, "softmax"), ("categorical_crossentropy", 3, "softmax")])


@FAST
@given(X=st.one_of(arrays(max_dims=2), samples(3)), y=st.one_of(arrays(max_dims=2), samples(1), samples(2)), kind=targets, batch_size=st.integers(-1, 40),
       epochs=st.integers(0, 2), split=st.sampled_from([0.0, 0.25, 0.5, 0.99]))
def test_fit_and_evaluate_work_or_refuse(X, y, kind, batch_size, epochs, split):
    m = _model("float64", *kind, hidden=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # anynet reports overflow itself: the array library's warnings must not leak out as well
        warnings.filterwarnings("error", "(overflow|invalid value|divide by zero) encountered", RuntimeWarning)
        try:
            h = m.fit(X, y, epochs=epochs, batch_size=batch_size, validation_split=split, verbose=0)
            result = m.evaluate(X, y, batch_size=batch_size, return_dict=True)
        except NonFiniteLossError:
            return  # documented, and not silent: finite inputs so large that the loss overflows
        except Exception as exc:  # noqa: BLE001
            _documented(exc)
            return
    assert all(math.isfinite(v) for vs in h.history.values() for v in vs)
    assert all(math.isfinite(v) for v in result.values()), result
    assert np.all(np.isfinite(m.params))


@FAST
@given(method=st.sampled_from(["L-BFGS-B", "TNC", "CG", "BFGS", "Newton-CG", "trust-ncg", "dogleg", "Nelder-Mead",
                               "lbfgs", "", "SLSQP"]),
       maxiter=st.one_of(st.none(), st.integers(-2, 5), st.floats(allow_nan=True), st.text(max_size=3)),
       bounds=st.one_of(st.none(), st.lists(st.tuples(st.floats(-1, 0), st.floats(0, 1)), max_size=3)),
       tol=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.just("x")),
       X=st.one_of(arrays(max_dims=2, max_side=5), samples(3)))
def test_scipy_adapter_works_or_refuses(method, maxiter, bounds, tol, X):
    m = _model("float64", "mse", 2, None)
    y = np.zeros((X.shape[0] if X.ndim else 0, 2))
    options = None if maxiter is None else {"maxiter": maxiter}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = anynet.optimize.minimize(m, X, y, method=method, options=options, bounds=bounds or None, tol=tol)
        except Exception as exc:  # noqa: BLE001
            _documented(exc)
            return
    assert math.isfinite(res.fun) and np.all(np.isfinite(m.params))


# -- save / load ----------------------------------------------------------------------------

layer_specs = st.lists(st.one_of(
    st.builds(lambda u, a: L.Dense(u, activation=a), st.integers(1, 5),
              st.sampled_from([None, "relu", "sigmoid", "tanh", "softmax", "elu", "leaky_relu", "softplus"])),
    st.builds(L.Dropout, st.sampled_from([0.0, 0.1, 0.5])),
    st.builds(L.Activation, st.sampled_from(["relu", "log_softmax"]))), min_size=1, max_size=4)
optimizers = st.sampled_from([lambda: an.optimizers.SGD(0.1, momentum=0.5, nesterov=True), lambda: "rmsprop",
                              lambda: an.optimizers.AdamW(an.optimizers.StepDecay(0.1, 0.5, 2)), lambda: "sgd"])


@FAST
@given(layers=layer_specs, dtype=st.sampled_from(["float32", "float64"]), opt=optimizers,
       n_in=st.integers(1, 4), epochs=st.integers(0, 2))
def test_any_model_round_trips(tmp_path_factory, layers, dtype, opt, n_in, epochs):
    m = an.Sequential([*layers, L.Dense(2)], seed=1, dtype=dtype)
    m.compile(optimizer=opt(), loss="mse")
    X = np.random.default_rng(0).normal(size=(10, n_in))
    m.build((n_in,))
    try:
        m.fit(X, np.zeros((10, 2)), epochs=epochs, batch_size=4, verbose=0)
    except NonFiniteLossError:
        pass  # diverged (log_softmax under mse); the weights from before that batch are kept, and saved
    path = tmp_path_factory.mktemp("rt") / "m.anynet"
    m.save(path)
    r = an.load(path)
    np.testing.assert_array_equal(r.params, m.params)
    try:
        expected = m.predict(X)
    except NonFiniteOutputError:  # SGD drove finite weights so large that the outputs overflow
        with pytest.raises(NonFiniteOutputError):
            r.predict(X)
    else:
        np.testing.assert_array_equal(r.predict(X), expected)
    assert repr(r.layers) == repr(m.layers) and repr(r.optimizer) == repr(m.optimizer)


_SAVED: dict[str, bytes] = {}


def _saved_bytes(tmp_path_factory) -> bytes:
    if "raw" not in _SAVED:
        m = an.Sequential([L.Dense(3, activation="relu"), L.Dropout(0.2), L.Dense(2, activation="softmax")], seed=0)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        m.fit(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2, epochs=2, verbose=0)
        path = tmp_path_factory.mktemp("saved") / "m.anynet"
        m.save(path)
        _SAVED["raw"] = path.read_bytes()
    return _SAVED["raw"]


def _load_or_refuse(path) -> None:
    try:
        m = an.load(path)
    except Exception as exc:  # noqa: BLE001
        assert isinstance(exc, SaveFileError), f"{type(exc).__name__}: {exc}"
        _documented(exc)
        return
    assert np.all(np.isfinite(m.params))


@FAST
@given(data=st.data())
def test_damaged_files_load_or_are_refused(tmp_path_factory, data):
    raw = bytearray(_saved_bytes(tmp_path_factory))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 255)), min_size=1, max_size=4))
    for pos, value in edits:
        raw[pos] = value
    cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
    path = tmp_path_factory.mktemp("dmg") / "m.anynet"
    path.write_bytes(bytes(raw[:cut]))
    _load_or_refuse(path)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
                           max_leaves=8)


def _leaves(doc, path=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _leaves(v, (*path, i))
    yield path


@FAST
@given(data=st.data())
def test_any_change_to_the_settings_loads_or_is_refused(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("doc")
    (folder / "m.anynet").write_bytes(_saved_bytes(tmp_path_factory))
    tensors, meta = tensorfile.read(folder / "m.anynet")
    doc = json.loads(meta["model"])
    where = data.draw(st.sampled_from([p for p in _leaves(doc) if p]))
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    parent[where[-1]] = data.draw(json_values)
    meta["model"] = json.dumps(doc)
    if data.draw(st.booleans()):
        meta["format_version"] = data.draw(st.sampled_from(["0", "1", "2", "-1", "", "1.0", "٣"]))
    tensorfile.write(folder / "x.anynet", tensors, meta)
    _load_or_refuse(folder / "x.anynet")


@FAST
@given(path=st.one_of(st.text(max_size=12), st.integers(), st.none(), st.binary(max_size=4)))
def test_load_takes_any_path_argument(path):
    try:
        an.load(path)
    except Exception as exc:  # noqa: BLE001
        _documented(exc)


@pytest.mark.parametrize("backend_name", ["numpy", "nonsense", "", "cupy"])
def test_load_with_any_backend_argument(tmp_path, backend_name):
    m = _model()
    m.build((4,))
    m.save(tmp_path / "m.anynet")
    try:
        r = an.load(tmp_path / "m.anynet", backend=backend_name)
    except Exception as exc:  # noqa: BLE001
        _documented(exc)
        return
    assert r.placement.backend.name == backend_name


# -- arbitrary bytes and headers, with a memory bound ----------------------------------------

_CODES = ["F64", "F32", "F16", "I8", "U8", "BOOL", "BF16", "O", "F8_E4M3"]
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "I8": 1, "U8": 1, "BOOL": 1}
_SIDES = st.one_of(st.integers(0, 4), st.integers(0, 2**40), st.integers(2**40, 2**80))


@st.composite
def _crafted_files(draw, anynet_doc: str):
    """(header bytes, sparse size): 1-3 tensors declared over up to 1 GiB of sparse file; most
    are consistent (valid dtype, size = shape x itemsize, offsets tiling the data), some not."""
    header: dict = {"__metadata__": {"format": "anynet", "format_version": "1", "model": anynet_doc}}
    end = 0
    for i in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(["params", "opt/m", "opt/v", f"t{i}"]))
        if draw(st.booleans()):  # consistent: only the sizes are hostile
            dtype = draw(st.sampled_from(sorted(_ITEMSIZE)))
            n = draw(st.integers(0, max(0, 2**30 - end) // _ITEMSIZE[dtype]))
            shape = draw(st.sampled_from([[n], [1, n], [n, 1]]))
            begin, size = end, n * _ITEMSIZE[dtype]
        else:
            dtype, shape = draw(st.sampled_from(_CODES)), draw(st.lists(_SIDES, max_size=4))
            size = draw(st.one_of(st.just(math.prod(shape) * 4), st.integers(0, 2**30)))
            begin = draw(st.one_of(st.just(end), st.integers(0, 2**30)))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, begin + size]}
        end = max(end, begin + size)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text, min(end, 2**31)


def _peak_bytes_of(fn) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@FAST
@given(data=st.data())
def test_any_bytes_load_or_are_refused_within_a_memory_bound(tmp_path_factory, data):
    """Random bytes, damaged headers and headers declaring up to 2 GiB over a sparse file:
    each loads or is a SaveFileError, and memory stays within a small bound, never the declared size."""
    folder = tmp_path_factory.mktemp("bytes")
    saved = _saved_bytes(tmp_path_factory)
    (n,) = struct.unpack("<Q", saved[:8])
    doc = json.loads(saved[8:8 + n])["__metadata__"]["model"]
    kind = data.draw(st.sampled_from(["bytes", "prefix", "crafted"]))
    path = folder / "x.anynet"
    if kind == "bytes":
        path.write_bytes(data.draw(st.binary(max_size=256)))
    elif kind == "prefix":  # a valid start, then anything
        path.write_bytes(saved[:data.draw(st.integers(0, len(saved)))] + data.draw(st.binary(max_size=64)))
    else:
        head, size = data.draw(_crafted_files(doc))
        with open(path, "wb") as f:
            f.write(head)
            f.truncate(len(head) + size)  # sparse: nothing on disk
    peak = _peak_bytes_of(lambda: _load_or_refuse(path))
    assert peak < 8 << 20, f"loading a {kind} file of {path.stat().st_size} bytes peaked at {peak} bytes"
    # the bare reader: checks the header, reads nothing until asked
    try:
        peak = _peak_bytes_of(lambda: tensorfile.read(path))
    except SaveFileError:
        return
    assert peak < 8 << 20
