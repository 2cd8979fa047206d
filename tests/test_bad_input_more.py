"""More bad input: save/load, checkpoints and resume, evaluate/predict, the scipy adapter,
the ex4 loader and backend selection. Each case checks the error type and the message."""

from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.io import savemat

from model_files import rewrite

import anynet as an
import anynet.optimize
from anynet import tensorfile
from anynet.datasets.ex4 import load_ex4
from anynet.errors import (AnynetError, BackendError, BackendUnavailableError, InputError, InputTypeError,
                           NonFiniteOutputError, NotCompiledError, SaveFileError)

# the overflow cases overflow on purpose; anynet reports it, and the library must not warn as well
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # anynet reports overflow itself

L = an.layers
rng = np.random.default_rng(0)
X = rng.normal(size=(20, 4))
y = (X[:, 0] > 0).astype(float)


def binary(optimizer="adam", compiled=True):
    m = an.Sequential([L.Dense(3, activation="relu"), L.Dense(1, activation="sigmoid")], seed=0)
    if compiled:
        m.compile(optimizer=optimizer, loss="binary_crossentropy")
    return m


def linear():
    m = an.Sequential([L.Dense(2), L.Dense(1)], seed=0)
    m.compile(optimizer="sgd", loss="mse")
    return m


class Custom(L.Layer):
    kind = "custom"


@pytest.fixture(scope="module")
def f(tmp_path_factory) -> SimpleNamespace:
    """Good and bad files, made once."""
    d = tmp_path_factory.mktemp("bad")
    m = binary()
    m.fit(X, y, epochs=1, verbose=0)
    good = d / "good.anynet"
    m.save(good)
    raw = good.read_bytes()
    (d / "empty.anynet").write_bytes(b"")
    (d / "cut.anynet").write_bytes(raw[:-10])
    (d / "evil.anynet").write_bytes(pickle.dumps({"a": 1}))
    np.savez(d / "weights.npz", W=np.zeros(3))
    tensorfile.write(d / "plain.safetensors", {"W": np.zeros(3)})
    uncompiled = binary(compiled=False).build((4,))
    uncompiled.save(d / "uncompiled.anynet")
    ns = SimpleNamespace(dir=d, **{p.stem: p for p in d.iterdir()})
    ns.newer = rewrite(good, d / "newer.anynet", meta=lambda mt: mt.update(format_version="2"))
    ns.conv = rewrite(good, d / "conv.anynet", doc=lambda dc: dc["model"]["layers"][0].update({"class": "LSTM"}))
    ns.adan = rewrite(good, d / "adan.anynet", doc=lambda dc: dc["compile"]["optimizer"].update({"class": "Adan"}))
    ns.units0 = rewrite(good, d / "units0.anynet", doc=lambda dc: dc["model"]["layers"][0]["config"].update(units=0))
    ns.noparams = rewrite(good, d / "noparams.anynet", tensors=lambda t: t.pop("params"))
    ns.extra = rewrite(good, d / "extra.anynet", tensors=lambda t: t.update(extra=np.zeros(2)))
    ns.short = rewrite(good, d / "short.anynet", tensors=lambda t: t.update(params=t["params"][:-1]))
    ns.f64 = rewrite(good, d / "f64.anynet", tensors=lambda t: t.update(params=t["params"].astype("float64")))
    ns.nan = rewrite(good, d / "nan.anynet", tensors=lambda t: t["params"].__setitem__(0, np.nan))
    ns.layers = rewrite(good, d / "layers.anynet", doc=lambda dc: dc["model"]["layers"][1]["config"].update(units=2))
    savemat(d / "notes.mat", {"notes": np.zeros(3)})
    savemat(d / "narrow.mat", {"X": np.zeros((5, 399)), "y": np.ones(5)})
    savemat(d / "labels.mat", {"X": np.zeros((5, 400)), "y": np.arange(5)})
    savemat(d / "rows.mat", {"X": np.zeros((5, 400)), "y": np.ones(4)})
    (d / "text.mat").write_text("not matlab")
    (d / "nothing").mkdir()
    return ns


def _nan_params():
    m = linear().build((2,))
    m.params = np.array([np.nan, 0, 0, 0, 0, 0, 0, 0, 0], dtype="float32")
    return m


CASES = [
    # -- save / load -------------------------------------------------------------------------
    ("load missing file", lambda f: an.load(f.dir / "missing.anynet"), SaveFileError, r"No such file: '.*missing.anynet'"),
    ("load a folder", lambda f: an.load(f.dir), SaveFileError, r"is a folder, not a model file"),
    ("load path int", lambda f: an.load(3), InputTypeError, r"A file path is a str or os.PathLike, got 3 of type int"),
    ("load empty file", lambda f: an.load(f.empty), SaveFileError,
     r"is too short to be a safetensors file \(0 bytes; the header length alone takes 8\)"),
    ("load truncated file", lambda f: an.load(f.cut), SaveFileError,
     r"is truncated: its header describes \d+ bytes of tensor data, the file holds \d+"),
    ("load a pickle", lambda f: an.load(f.evil), SaveFileError, r"looks like a Python pickle \(anynet never unpickles"),
    ("load an npz", lambda f: an.load(f.weights), SaveFileError, r"looks like a zip archive \(a NumPy .npz\?\)"),
    ("plain safetensors", lambda f: an.load(f.plain), SaveFileError,
     r"is a safetensors file but not an anynet model \(its metadata has keys \[\]"),
    ("newer format", lambda f: an.load(f.newer), SaveFileError,
     r"has format version 2, newer than this anynet \(.*\) reads \(1\); upgrade anynet"),
    ("unknown layer", lambda f: an.load(f.conv), SaveFileError,
     r"Unknown layer 'LSTM' in the file; this anynet knows Activation, Dense, Dropout, Flatten, Input, .*"
     r"conv: Conv1D, Conv2D; .*pooling: .*MaxPooling2D"),
    ("unknown optimizer", lambda f: an.load(f.adan), SaveFileError, r"Unknown optimizer 'Adan' in the file; .*Adam, AdamW"),
    ("bad layer setting", lambda f: an.load(f.units0), SaveFileError,
     r"Cannot rebuild layer Dense from .*Dense\(units\) needs a positive int, got units=0"),
    ("missing tensor", lambda f: an.load(f.noparams), SaveFileError,
     r"The tensor 'params' is missing; the file holds \['opt/m', 'opt/v'\]"),
    ("extra tensor", lambda f: an.load(f.extra), SaveFileError,
     r"holds tensors this model does not use: \['extra'\]; expected \['opt/m', 'opt/v', 'params'\]"),
    ("params shape", lambda f: an.load(f.short), SaveFileError,
     r"'params' has shape \(18,\) and dtype float32; the architecture in the file needs shape \(19,\)"),
    ("params dtype", lambda f: an.load(f.f64), SaveFileError, r"dtype float64; .* needs shape \(19,\) and dtype float32"),
    ("NaN params", lambda f: an.load(f.nan), SaveFileError, r"The tensor 'params' holds 1 NaN or infinite value"),
    ("weights vs layers", lambda f: an.load(f.layers), SaveFileError,
     r"The file lists weights \[\('W', \[4, 3\]\), .*\('W', \[3, 1\]\).*\('W', \[3, 2\]\)"),
    ("load unknown backend", lambda f: an.load(f.good, backend="nunpy"), BackendError,
     r"Unknown backend 'nunpy'. Did you mean 'numpy'\?"),
    ("save unbuilt", lambda f: binary().save(f.dir / "x.anynet"), InputError,
     r"The model is not built yet; call fit, predict or build\(input_shape\) before save"),
    ("save into missing folder", lambda f: linear().build((2,)).save(f.dir / "no" / "x.anynet"), SaveFileError,
     r"Cannot save to '.*x.anynet': the folder '.*no' does not exist"),
    ("save onto a folder", lambda f: linear().build((2,)).save(f.dir), SaveFileError,
     r"it is a folder; give a file name such as 'model.anynet'"),
    ("save a custom layer", lambda f: an.Sequential([Custom(), L.Dense(1)]).build((2,)).save(f.dir / "c.anynet"),
     InputTypeError, r"Cannot save the layer Custom\(name='custom'\): only anynet's own layers can be saved \(Activation, Dense, .*conv: Conv1D"),
    ("save NaN params", lambda f: _nan_params().save(f.dir / "n.anynet"), InputError,
     r"parameters hold 1 NaN or infinite value\(s\); refusing to save them"),
    ("load_weights misfit", lambda f: linear().load_weights(f.good), SaveFileError,
     r"holds a float32 model of \['Dense', 'Dense'\] on inputs \(4,\) \(19 parameters\); this model is float32"),
    # -- checkpoints and resume ----------------------------------------------------------------
    ("resume and initial_epoch", lambda f: binary().fit(X, y, initial_epoch=2, resume_from=f.good, verbose=0),
     InputError, r"Pass initial_epoch or resume_from, not both.*initial_epoch=2"),
    ("resume other optimizer", lambda f: binary("sgd").fit(X, y, epochs=2, resume_from=f.good, verbose=0),
     SaveFileError, r"was trained with Adam, but the model is compiled with SGD"),
    ("resume from uncompiled", lambda f: binary().fit(X, y, epochs=2, resume_from=f.uncompiled, verbose=0),
     SaveFileError, r"was saved before compile, so it holds no training state to resume"),
    ("resume missing file", lambda f: binary().fit(X, y, epochs=2, resume_from=f.dir / "nope.anynet", verbose=0),
     SaveFileError, r"No such file: '.*nope.anynet'"),
    ("checkpoint frequency", lambda f: an.ModelCheckpoint("m.anynet", save_freq_epochs=0), InputError,
     r"save_freq_epochs must be an int >= 1, got 0"),
    ("checkpoint mode", lambda f: an.ModelCheckpoint("m.anynet", mode="best"), InputError,
     r"ModelCheckpoint mode must be 'auto', 'min' or 'max', got 'best'"),
    ("checkpoint path", lambda f: an.ModelCheckpoint(None), InputTypeError,
     r"ModelCheckpoint filepath must be a str or os.PathLike, got None"),
    ("checkpoint monitor", lambda f: binary().fit(X, y, verbose=0, callbacks=[
        an.ModelCheckpoint(f.dir / "b.anynet", save_best_only=True)]), InputError,
     r"ModelCheckpoint monitors 'val_loss', which this training does not report; it reports \['loss'\]"),
    ("checkpoint name key", lambda f: binary().fit(X, y, verbose=0, callbacks=[
        an.ModelCheckpoint(str(f.dir / "{acc:.2f}.anynet"))]), InputError,
     r"filepath '.*\{acc:.2f\}.anynet' could not be formatted \(KeyError\('acc'\)\); it may use \{epoch\} and"),
    # -- evaluate / predict ---------------------------------------------------------------------
    ("evaluate before compile", lambda f: binary(compiled=False).evaluate(X, y), NotCompiledError,
     r"Call model.compile\(optimizer=..., loss=...\) before evaluate"),
    ("predict batch_size 0", lambda f: binary().predict(X, batch_size=0), InputError,
     r"batch_size must be an int >= 1, got 0"),
    ("evaluate sample count", lambda f: binary().evaluate(X, y[:5]), InputError,
     r"X has 20 \(shape \(20, 4\)\), y has 5 \(shape \(5,\)\)"),
    ("evaluate NaN y", lambda f: linear().evaluate(X[:, :2], np.where(y > 0, np.nan, 0.0)), InputError,
     r"y contains \d+ NaN or infinite value"),
    ("predict overflow", lambda f: linear().predict(np.full((1, 2), 3e38)), NonFiniteOutputError,
     r"predict: 1 of the 1 outputs are NaN or infinite; the computation overflowed float32 .* or use dtype='float64'"),
    ("evaluate overflow", lambda f: linear().evaluate(np.full((3, 2), 1e30), np.zeros(3)), NonFiniteOutputError,
     r"evaluate: \{'loss': inf\} on 3 samples; the computation overflowed float32"),
    ("predict 2-d samples", lambda f: binary(compiled=False).build((4,)).predict(np.zeros((5, 2, 2))), InputError,
     r"The model expects samples of shape \(4,\), got X with shape \(5, 2, 2\)"),
    ("dropout noise_shape rank", lambda f: an.Sequential([L.Dense(3), L.Dropout(0.5, noise_shape=(None, 2))]).build(4),
     InputError, r"Dropout noise_shape \(None, 2\) does not fit inputs of shape \(None, 3\): it needs 2 entries, "
                  r"batch axis first, each None, 1 or the input's size"),
    ("dropout noise_shape value", lambda f: L.Dropout(0.5, noise_shape=(None, 0)), InputError,
     r"Dropout noise_shape is a tuple of positive ints or None, batch axis first, such as \(None, 1, 64\); "
     r"got \(None, 0\)"),
    ("dropout seed", lambda f: L.Dropout(0.5, seed=-1), InputError, r"Dropout seed must be an int >= 0, got -1"),
    ("dropout seed type", lambda f: L.Dropout(0.5, seed="1"), InputTypeError,
     r"Dropout seed must be an int >= 0, got '1' of type str"),
    ("activation dict keys", lambda f: L.Dense(3, activation={"class": "relu"}), InputError,
     r"An activation given as a dict is \{'class': name, 'config': \{...\}\} as get_config writes it.*"
     r"got \{'class': 'relu'\}"),
    ("activation dict config", lambda f: L.Dense(3, activation={"class": "relu", "config": {"maxvalue": 6}}),
     InputError, r"Cannot make the activation 'relu' from \{'maxvalue': 6\}: .*unexpected keyword argument"),
    # -- the scipy adapter ----------------------------------------------------------------------
    ("unknown method", lambda f: anynet.optimize.minimize(binary(), X, y, method="lbfgs"), InputError,
     r"Unknown method 'lbfgs'; scipy.optimize.minimize knows \[.*'l-bfgs-b'"),
    ("full Hessian", lambda f: anynet.optimize.minimize(binary(), X, y, method="dogleg"), InputError,
     r"method 'dogleg' needs the full Hessian, which anynet does not form"),
    ("bounds refused", lambda f: anynet.optimize.minimize(binary(), X, y, method="CG", bounds=[(0, 1)] * 19),
     InputError, r"method 'CG' does not take bounds; use one of \["),
    ("bounds length", lambda f: anynet.optimize.minimize(binary(), X, y, bounds=[(0, 1)] * 2), InputError,
     r"bounds must give one \(low, high\) pair per parameter: 19, got 2"),
    ("maxiter str", lambda f: anynet.optimize.minimize(binary(), X, y, options={"maxiter": "400"}), InputTypeError,
     r"options\['maxiter'\] must be an int >= 0, got '400' of type str"),
    ("maxfun huge", lambda f: anynet.optimize.minimize(binary(), X, y, method="TNC", options={"maxiter": 2**40}),
     InputError, r"options\['maxiter'\] must be below 2\*\*31, got 1099511627776"),
    ("negative tol", lambda f: anynet.optimize.minimize(binary(), X, y, tol=-1), InputError,
     r"tol must be a number >= 0 or None, got -1"),
    ("options list", lambda f: anynet.optimize.minimize(binary(), X, y, options=[("maxiter", 3)]), InputTypeError,
     r"options must be a dict such as \{'maxiter': 400\}, got \[\('maxiter', 3\)\]"),
    ("objective vector", lambda f: anynet.optimize.Objective(binary(), X, y).fun(np.zeros(3)), InputError,
     r"The parameter vector must have shape \(19,\), got \(3,\)"),
    ("minimize uncompiled", lambda f: anynet.optimize.minimize(binary(compiled=False), X, y), NotCompiledError,
     r"before optimize"),
    # -- the ex4 loader -------------------------------------------------------------------------
    ("ex4 missing path", lambda f: load_ex4(f.dir / "ex4.mat"), InputError,
     r"ex4.mat does not exist; pass the path of ex4data1.mat / ex4weights.mat or their folder"),
    ("ex4 empty folder", lambda f: load_ex4(f.dir / "nothing"), InputError,
     r"No ex4 file \(ex4data1.mat, ex4weights.mat\) in .*nothing"),
    ("ex4 not MATLAB", lambda f: load_ex4(f.dir / "text.mat"), InputError, r"text.mat could not be read as a MATLAB .mat file"),
    ("ex4 other arrays", lambda f: load_ex4(f.dir / "notes.mat"), InputError,
     r"holds none of the ex4 arrays \['X', 'y', 'Theta1', 'Theta2'\]; it has \['notes'\]"),
    ("ex4 X shape", lambda f: load_ex4(f.dir / "narrow.mat"), InputError, r"X has shape \(5, 399\), expected \('m', 400\)"),
    ("ex4 labels", lambda f: load_ex4(f.dir / "labels.mat"), InputError,
     r"ex4 labels are 1..10 \(10 means the digit 0\); y holds 0..4"),
    ("ex4 rows", lambda f: load_ex4(f.dir / "rows.mat"), InputError, r"X has 5 rows but y has 4 labels"),
    # -- backend selection ------------------------------------------------------------------------
    ("use unknown backend", lambda f: an.use("nonsense"), BackendError, r"Unknown backend 'nonsense'.* Known backends: numpy"),
    ("use misspelt backend", lambda f: an.use("nunpy"), BackendError, r"Did you mean 'numpy'\?"),
    ("use non-string", lambda f: an.use(5), BackendError, r"A backend is named by a string such as 'numpy', got 5"),
    ("device not there", lambda f: an.using("numpy", device="cuda:0").__enter__(), BackendUnavailableError,
     r"Device 'cuda:0' is not available on backend 'numpy'; its devices here are \['cpu'\]"),
    ("model on unknown backend", lambda f: an.Sequential([L.Dense(1)], backend="jaxx").build((2,)), BackendError,
     r"Unknown backend 'jaxx'"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_message(case, f):
    _, call, error, pattern = case
    with pytest.raises(error, match=pattern) as e:
        call(f)
    assert isinstance(e.value, AnynetError)
    assert isinstance(e.value, (ValueError, TypeError, RuntimeError))


def test_unavailable_backend_says_how_to_install():
    if an.backends.get("cupy").is_available():
        pytest.skip("CuPy is usable here")
    with pytest.raises(BackendUnavailableError, match=r"Backend 'cupy' is not usable here: .* Install it with: pip"):
        an.Sequential([L.Dense(1)], backend="cupy").build((2,))


def test_environment_names_an_unknown_backend(monkeypatch):
    monkeypatch.setenv("ANYNET_BACKEND", "nonsense")
    with pytest.raises(BackendError, match=r"Unknown backend 'nonsense'"):
        binary().predict(X)
