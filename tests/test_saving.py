"""Saving and loading: round trips, the safetensors format, atomic writes under SIGKILL,
files that are refused (pickles, damage, misfits), checkpoints and exact resume."""

from __future__ import annotations

import json
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from model_files import rewrite

import anynet as an
from anynet import tensorfile
from anynet.errors import SaveFileError

L = an.layers
ROOT = Path(__file__).resolve().parents[1]


def _data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype("float32")
    return X, (X[:, 0] - X[:, 1] > 0).astype("float32")


def _model(seed=0, dtype="float32", optimizer=None):
    m = an.Sequential([L.Dense(8, activation="relu", kernel_regularizer=an.regularizers.L2(1e-3)),
                       L.Dropout(0.25), L.Dense(1, activation="sigmoid")], seed=seed, dtype=dtype)
    m.compile(optimizer=optimizer or an.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return m


def _same_state(a: an.Sequential, b: an.Sequential) -> None:
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    for x, y in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(x, y)
    assert (a.opt_state is None) == (b.opt_state is None)
    if a.opt_state is not None:
        assert a.opt_state["iterations"] == b.opt_state["iterations"]
        assert sorted(a.opt_state) == sorted(b.opt_state)
        for k in a.opt_state:
            if k != "iterations":
                np.testing.assert_array_equal(np.asarray(a.opt_state[k]), np.asarray(b.opt_state[k]))
    assert a.shuffle_rng.bit_generator.state == b.shuffle_rng.bit_generator.state
    assert a.rng.get_state() == b.rng.get_state()


# -- round trips --------------------------------------------------------------------------

ARCHITECTURES = {
    "mlp-adam-schedule": lambda: (
        [L.Input((6,)), L.Dense(5, activation="leaky_relu", kernel_initializer=an.initializers.RandomUniform(-0.2, 0.3),
                                bias_initializer=an.initializers.Constant(0.1), kernel_regularizer=an.regularizers.L1L2(0.01, 0.02),
                                bias_regularizer=an.regularizers.L1(0.003)),
         L.Dropout(0.1), L.Dense(3), L.Activation("softmax")],
        an.optimizers.Adam(an.optimizers.ExponentialDecay(0.01, 5, 0.5, staircase=True)),
        an.losses.SparseCategoricalCrossentropy(), ["accuracy"]),
    "sgd-nesterov-mse": lambda: (
        [L.Dense(4, activation="elu", use_bias=False, kernel_initializer="he_normal"), L.Dense(2)],
        an.optimizers.SGD(an.optimizers.StepDecay(0.1, 0.5, 3), momentum=0.9, nesterov=True), "mse", ["mae", "mse"]),
    "rmsprop-bce-sum": lambda: (
        [L.Dense(4, activation="tanh", kernel_initializer="ex4"), L.Dense(3, activation="sigmoid")],
        an.optimizers.RMSprop(0.01, rho=0.8), an.losses.BinaryCrossentropy(output_reduction="sum"), ["binary_accuracy"]),
    "adamw-logits-plain-sgd": lambda: (
        [L.Flatten(), L.Dense(3, kernel_initializer="standard_normal")],
        an.optimizers.AdamW(0.01, weight_decay=0.1), an.losses.CategoricalCrossentropy(from_logits=True), []),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_round_trip_restores_everything(tmp_path, arch, dtype):
    layers, opt, loss, metrics = ARCHITECTURES[arch]()
    m = an.Sequential(layers, seed=5, dtype=dtype, name="round")
    m.compile(optimizer=opt, loss=loss, metrics=metrics)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 6))
    y = {"mlp-adam-schedule": rng.integers(0, 3, 30), "sgd-nesterov-mse": rng.normal(size=(30, 2)),
         "rmsprop-bce-sum": rng.integers(0, 2, (30, 3)), "adamw-logits-plain-sgd": np.eye(3)[rng.integers(0, 3, 30)]}[arch]
    m.fit(X, y, epochs=2, batch_size=8, verbose=0)
    m.save(tmp_path / "m.anynet")
    r = an.load(tmp_path / "m.anynet")
    _same_state(m, r)
    assert (r.name, r.dtype, r.seed, r.input_shape, r.output_shape) == (m.name, m.dtype, m.seed, m.input_shape,
                                                                       m.output_shape)
    assert repr(r.layers) == repr(m.layers)
    assert repr(r.optimizer) == repr(m.optimizer) and repr(r.loss) == repr(m.loss)
    assert [(type(a), a.name) for a in r.metrics] == [(type(a), a.name) for a in m.metrics]
    assert r.history.history == m.history.history and r.history.epoch == m.history.epoch
    np.testing.assert_array_equal(r.predict(X), m.predict(X))
    assert r.evaluate(X, y, return_dict=True) == m.evaluate(X, y, return_dict=True)
    # and it trains on exactly as the original does
    m.fit(X, y, epochs=1, batch_size=8, verbose=0)
    r.fit(X, y, epochs=1, batch_size=8, verbose=0)
    _same_state(m, r)


def test_uncompiled_and_untrained_models_round_trip(tmp_path):
    m = an.Sequential([L.Dense(3, activation="relu"), L.Dense(2)], seed=2).build((4,))
    m.save(tmp_path / "a.anynet")
    r = an.load(tmp_path / "a.anynet")
    assert r.optimizer is None and r.opt_state is None and r.history is None
    np.testing.assert_array_equal(r.params, m.params)
    m.compile(optimizer="adam", loss="mse")
    m.save(tmp_path / "b.anynet")
    r = an.load(tmp_path / "b.anynet")
    assert type(r.optimizer) is an.optimizers.Adam and r.opt_state is None


def test_load_on_other_backends_and_back_is_bit_exact(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_strict")
    m = _model(dtype="float64")
    X, y = _data()
    m.fit(X, y, epochs=2, batch_size=32, verbose=0)
    m.save(tmp_path / "np.anynet")
    for name, device in [("torch", "cpu"), ("array_api_strict", "device1")]:
        other = an.load(tmp_path / "np.anynet", backend=name, device=device)
        assert other.placement.backend.name == name
        np.testing.assert_array_equal(other.placement.backend.to_numpy(other.params), np.asarray(m.params))
        np.testing.assert_array_equal(other.placement.backend.to_numpy(other.opt_state["m"]), m.opt_state["m"])
        other.save(tmp_path / f"{name}.anynet")
        back = an.load(tmp_path / f"{name}.anynet")
        np.testing.assert_array_equal(back.params, m.params)
        np.testing.assert_array_equal(back.opt_state["v"], m.opt_state["v"])
        assert back.opt_state["iterations"] == m.opt_state["iterations"]


def test_load_weights_sets_only_the_weights(tmp_path):
    m = _model()
    X, y = _data()
    m.fit(X, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.anynet")
    fresh = _model(seed=9)
    fresh.load_weights(tmp_path / "m.anynet")  # builds it from the file's input shape
    np.testing.assert_array_equal(fresh.params, m.params)
    assert fresh.opt_state is None
    # initializers and names do not change what given weights compute, so they need not match
    other = an.Sequential([L.Dense(8, activation="relu", kernel_initializer="he_normal", name="first",
                                   kernel_regularizer=an.regularizers.L2(1e-3)),
                           L.Dropout(0.25), L.Dense(1, activation="sigmoid", bias_initializer="ones")])
    other.load_weights(tmp_path / "m.anynet")
    np.testing.assert_array_equal(other.params, m.params)


def test_optimizer_moments_may_hold_inf_but_weights_may_not(tmp_path):
    m = _model()
    m.fit(*_data(), epochs=1, verbose=0)
    m.opt_state["v"][0] = np.inf  # Adam's v after a gradient of 1e20 in float32
    m.save(tmp_path / "m.anynet")
    assert an.load(tmp_path / "m.anynet").opt_state["v"][0] == np.inf
    m.params = np.full(m.count_params(), np.inf, dtype="float32")
    with pytest.raises(an.errors.InputError, match=r"hold 65 NaN or infinite value\(s\); refusing to save"):
        m.save(tmp_path / "m.anynet")


# -- the file format ----------------------------------------------------------------------

def test_file_is_safetensors_with_anynet_metadata(tmp_path):
    m = _model()
    X, y = _data()
    m.fit(X, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.anynet")
    tensors, meta = tensorfile.read(tmp_path / "m.anynet")
    assert sorted(tensors) == ["opt/m", "opt/v", "params"]
    assert meta["format"] == "anynet" and meta["format_version"] == "1"
    doc = json.loads(meta["model"])
    assert doc["model"]["layers"][0]["class"] == "Dense"
    assert doc["training"]["epoch"] == 1 and doc["training"]["iterations"] == 4
    assert doc["weights"][0] == {"layer": "dense", "name": "W", "shape": [6, 8]}
    raw = (tmp_path / "m.anynet").read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0 and raw[8:9] == b"{"


def test_the_reference_safetensors_reads_and_writes_our_files(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    m = _model()
    X, y = _data()
    m.fit(X, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.anynet")
    theirs = st.load_file(str(tmp_path / "m.anynet"))
    ours, meta = tensorfile.read(tmp_path / "m.anynet")
    assert sorted(theirs) == sorted(ours)
    for k in ours:
        np.testing.assert_array_equal(theirs[k], ours[k])
    # a file the reference writes, with our metadata, loads as a model
    st.save_file(theirs, str(tmp_path / "ref.anynet"), metadata=meta)
    _same_state(m, an.load(tmp_path / "ref.anynet"))
    # every dtype and shape we write reads back through both
    arrays = {"f2": np.arange(3, dtype="f2"), "i8": np.array(-5), "u1": np.zeros((0, 2), "u1"),
              "b": np.array([[True], [False]]), "f8": np.linspace(0, 1, 7).reshape(7, 1), "i4": np.arange(4, dtype="i4")}
    tensorfile.write(tmp_path / "all.st", arrays, {"k": "v"})
    for name, a in st.load_file(str(tmp_path / "all.st")).items():
        np.testing.assert_array_equal(a, arrays[name])
        assert a.dtype == arrays[name].dtype
    st.save_file(arrays, str(tmp_path / "ref.st"))
    back, _ = tensorfile.read(tmp_path / "ref.st")
    assert all(np.array_equal(back[k], arrays[k]) and back[k].dtype == arrays[k].dtype for k in arrays)


def _header_file(path, header, data=b""):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


@pytest.mark.parametrize("header,data,pattern", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1],
      "data_offsets": [12, 16]}}, bytes(16), r"tensor 'b' starts at byte 12 of the data, expected 8"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1],
      "data_offsets": [4, 8]}}, bytes(8), r"needs 4 bytes, but its data_offsets \[4, 8\] span 4|starts at byte 4"),
    ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8),
     r"dtype F32 and shape \(3,\) needs 12 bytes, but its data_offsets \[0, 8\] span 8"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(12), r"has trailing bytes"),
    ({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8), r"is truncated"),
    ({"a": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, bytes(8), r"unknown dtype 'O'"),
    ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, bytes(4), r"shape \[-1\]"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, bytes(4), r"data_offsets \[4, 0\]"),
    ({"a": {"dtype": "F32", "shape": [1]}}, bytes(4), r"must be an object with keys"),
    ({"__metadata__": {"a": 1}}, b"", r"__metadata__ must map strings to strings"),
    ([1, 2], b"", r"header that is a JSON list"),
])
def test_malformed_headers_are_named(tmp_path, header, data, pattern):
    with pytest.raises(SaveFileError, match=pattern):
        tensorfile.read(_header_file(tmp_path / "bad.st", header, data))


def test_duplicate_keys_nan_and_huge_header_lengths_are_refused(tmp_path):
    p = tmp_path / "dup.st"
    text = b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    p.write_bytes(struct.pack("<Q", len(text)) + text + b"x")
    with pytest.raises(SaveFileError, match=r"the key 'a' appears twice"):
        tensorfile.read(p)
    text = b'{"__metadata__":{"a":NaN}}'
    p.write_bytes(struct.pack("<Q", len(text)) + text)
    with pytest.raises(SaveFileError, match=r"NaN is not JSON"):
        tensorfile.read(p)
    p.write_bytes(struct.pack("<Q", 2**63) + b"{}")
    with pytest.raises(SaveFileError, match=r"says its header has 9223372036854775808 bytes, but the file holds 2"):
        tensorfile.read(p)


def test_every_truncation_is_refused(tmp_path):
    m = _model()
    m.fit(*_data(), epochs=1, verbose=0)
    m.save(tmp_path / "m.anynet")
    raw = (tmp_path / "m.anynet").read_bytes()
    cuts = sorted({0, 1, 7, 8, 9, len(raw) // 2, len(raw) - 1, *range(0, len(raw), max(1, len(raw) // 40))})
    for cut in cuts:
        (tmp_path / "cut.anynet").write_bytes(raw[:cut])
        with pytest.raises(SaveFileError, match=r"too short|truncated|not a safetensors file|not valid JSON"):
            an.load(tmp_path / "cut.anynet")


# -- refusing pickles and code --------------------------------------------------------------

class _Payload:
    """Unpickling this creates the marker file: proof that code from the file ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_payloads_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(marker))
    files = {"evil.anynet": payload, "evil.pkl": payload}
    buf = tmp_path / "obj.npz"
    np.savez(buf, params=np.array([_Payload(marker)], dtype=object))
    files["evil.npz"] = buf.read_bytes()
    np.save(tmp_path / "obj.npy", np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    files["evil.npy"] = (tmp_path / "obj.npy").read_bytes()
    assert not marker.exists()
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(SaveFileError, match=r"pickle|\.npz|\.npy") as e:
            an.load(tmp_path / name)
        assert name in str(e.value)
        with pytest.raises(SaveFileError):
            _model().load_weights(tmp_path / name)
    assert zipfile.is_zipfile(tmp_path / "evil.npz")
    assert not marker.exists()


def test_names_in_the_file_are_looked_up_never_imported(tmp_path):
    m = _model()
    m.fit(*_data(), epochs=1, verbose=0)
    m.save(tmp_path / "m.anynet")
    for where, value in [(lambda d: d["model"]["layers"][0], "os.system"),
                         (lambda d: d["model"]["layers"][0]["config"]["activation"], "builtins.eval"),
                         (lambda d: d["compile"]["loss"], "subprocess.Popen"),
                         (lambda d: d["compile"]["optimizer"], "Optimizer")]:
        def edit(doc, where=where, value=value):
            where(doc)["class"] = value
        rewrite(tmp_path / "m.anynet", tmp_path / "x.anynet", edit)
        with pytest.raises(SaveFileError, match=rf"Unknown \w+ '{value}' in the file; this anynet knows"):
            an.load(tmp_path / "x.anynet")


def test_nothing_is_loaded_into_a_model_from_a_bad_file(tmp_path):
    X, y = _data()
    src = _model()
    src.fit(X, y, epochs=2, verbose=0)
    src.save(tmp_path / "good.anynet")
    bad = rewrite(tmp_path / "good.anynet", tmp_path / "bad.anynet",
                  tensors=lambda t: t.update({"opt/v": t["opt/v"][:-1]}))
    m = _model(seed=3)
    m.fit(X, y, epochs=1, verbose=0)
    copy = lambda state: {k: np.array(v, copy=True) for k, v in state.items()}  # noqa: E731
    before = (m.get_weights(), copy(m.opt_state), m.rng.get_state(), m.shuffle_rng.bit_generator.state,
              json.dumps(m.history.history))
    with pytest.raises(SaveFileError, match=r"'opt/v' has shape \(64,\) and dtype float32; the architecture in "
                                            r"the file needs shape \(65,\)"):
        m.fit(X, y, epochs=3, verbose=0, resume_from=bad)
    with pytest.raises(SaveFileError):
        m.load_weights(tmp_path / "missing.anynet")
    after = (m.get_weights(), copy(m.opt_state), m.rng.get_state(), m.shuffle_rng.bit_generator.state,
             json.dumps(m.history.history))
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    for k in before[1]:
        np.testing.assert_array_equal(before[1][k], after[1][k])
    assert before[2:] == after[2:]


def test_a_checkpoint_must_fit_the_model_it_resumes(tmp_path):
    X, y = _data()
    src = _model()
    src.fit(X, y, epochs=1, verbose=0)
    src.save(tmp_path / "m.anynet")
    wider = an.Sequential([L.Dense(9, activation="relu"), L.Dropout(0.25), L.Dense(1, activation="sigmoid")], seed=0)
    wider.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.raises(SaveFileError, match=r"holds a float32 model of \['Dense', 'Dropout', 'Dense'\] on inputs "
                                            r"\(6,\) \(65 parameters\)"):
        wider.fit(X, y, epochs=2, verbose=0, resume_from=tmp_path / "m.anynet")
    sgd = _model(optimizer="sgd")
    with pytest.raises(SaveFileError, match=r"trained with Adam, but the model is compiled with SGD"):
        sgd.fit(X, y, epochs=2, verbose=0, resume_from=tmp_path / "m.anynet")
    with pytest.raises(an.errors.InputError, match=r"initial_epoch or resume_from, not both"):
        _model().fit(X, y, epochs=2, initial_epoch=1, verbose=0, resume_from=tmp_path / "m.anynet")


# -- atomic writes ------------------------------------------------------------------------------

def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    m = _model()
    m.build((6,))
    m.save(tmp_path / "m.anynet")
    old = (tmp_path / "m.anynet").read_bytes()
    m.params = np.zeros(m.count_params(), "float32")

    def crash(*a):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(SaveFileError, match=r"Could not write .*No space left on device"):
        m.save(tmp_path / "m.anynet")
    monkeypatch.undo()
    assert (tmp_path / "m.anynet").read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.anynet"]


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import anynet as an
    path, base = sys.argv[1], int(sys.argv[2])
    m = an.Sequential([an.layers.Dense(384)], seed=0).build((384,))
    m.compile(optimizer=an.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    m.opt_state = m.optimizer.init(m.params, m.placement.xp)
    k = base
    while True:
        # state k: every parameter, every momentum entry and the step count equal k
        m.params = np.full(m.count_params(), k, dtype="float32")
        m.opt_state = {"iterations": k, "velocity": np.full(m.count_params(), k, dtype="float32")}
        m.save(path)
        if k == base:
            print("saved", flush=True)
        k += 1
""")


def test_sigkill_during_repeated_saves_never_leaves_a_broken_file(tmp_path):
    """Kill a process that saves in a loop at random moments; the file always loads whole."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    path = tmp_path / "ckpt.anynet"
    rng = np.random.default_rng(0)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    kills, seen = 0, []
    start = time.monotonic()
    for round_ in range(8):
        base = 100_000 * (round_ + 1)
        child = subprocess.Popen([sys.executable, str(script), str(path), str(base)], stdout=subprocess.PIPE,
                                 env=env, text=True)
        try:
            assert child.stdout.readline().strip() == "saved"
            time.sleep(rng.uniform(0.0, 0.25))
        finally:
            child.kill()  # SIGKILL on POSIX
            child.wait(timeout=30)
        kills += 1
        m = an.load(path)
        k = int(m.params[0])
        assert k >= base, "the file must hold a state of this round"
        np.testing.assert_array_equal(m.params, np.full(m.count_params(), k, dtype="float32"))
        np.testing.assert_array_equal(m.opt_state["velocity"], np.full(m.count_params(), k, dtype="float32"))
        assert m.opt_state["iterations"] == k
        seen.append(k - base)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    print(f"{kills} kills in {time.monotonic() - start:.1f}s; states reached per round {seen}; "
          f"{len(leftovers)} kill(s) landed mid-write (temporary files left)")
    assert kills == 8 and max(seen) > 0


# -- checkpoints and exact resume ------------------------------------------------------------------

def test_checkpoint_every_n_epochs_with_formatted_names(tmp_path):
    X, y = _data()
    cb = an.ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}-{loss:.3f}.anynet"), save_freq_epochs=2)
    _model().fit(X, y, epochs=5, batch_size=32, verbose=0, callbacks=[cb])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n[:6] for n in names] == ["ck-02-", "ck-04-"]
    assert cb.last_saved.endswith(names[-1])
    m = an.load(tmp_path / names[-1])
    assert m.history.epoch == [0, 1, 2, 3] and json.loads(tensorfile.read(tmp_path / names[-1])[1]["model"])[
        "training"]["epoch"] == 4


def test_checkpoint_best_only_keeps_the_best_and_remembers_it_on_resume(tmp_path):
    X, y = _data()
    path = tmp_path / "best.anynet"
    cb = an.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    h = _model().fit(X, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0, callbacks=[cb])
    losses = h.history["val_loss"]
    assert cb.best == min(losses)
    assert an.load(path).history.history["val_loss"][-1] == min(losses)
    # resumed with a fresh callback: the best so far is the file's, not +inf
    cb2 = an.ModelCheckpoint(tmp_path / "best2.anynet", save_best_only=True)
    _model().fit(X, y, epochs=5, batch_size=16, validation_split=0.25, verbose=0, callbacks=[cb2], resume_from=path)
    assert cb2.best <= min(losses)
    with pytest.raises(an.errors.InputError, match=r"ModelCheckpoint monitors 'val_loss', which this training does "
                                                   r"not report; it reports \['accuracy', 'loss'\]"):
        _model().fit(X, y, epochs=1, verbose=0, callbacks=[an.ModelCheckpoint(path, save_best_only=True)])
    with pytest.raises(an.errors.InputError, match=r"could not be formatted \(KeyError\('val_acc'\)\)"):
        _model().fit(X, y, epochs=1, verbose=0, callbacks=[an.ModelCheckpoint(tmp_path / "{val_acc}.anynet")])


RESUME = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import anynet as an
    L = an.layers
    mode, path, out = sys.argv[1], sys.argv[2], sys.argv[3]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 6)).astype("float32")
    y = (X[:, 0] - X[:, 1] > 0).astype("float32")
    m = an.Sequential([L.Dense(8, activation="relu"), L.Dropout(0.3), L.Dense(1, activation="sigmoid")], seed=7)
    m.compile(optimizer=an.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    kw = dict(epochs=6, batch_size=16, validation_split=0.2, verbose=0)
    if mode == "interrupted":
        die = an.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: os.kill(os.getpid(), signal.SIGKILL) if e == 2 else None)
        m.fit(X, y, callbacks=[an.ModelCheckpoint(path), die], **kw)
    h = m.fit(X, y, resume_from=path if mode == "resumed" else None, **kw)
    np.save(out, m.params)
    print(repr(h.history), h.epoch)
""")


@pytest.mark.skipif(os.name != "posix", reason="the run kills itself with SIGKILL, a POSIX signal")
def test_interrupted_and_resumed_in_new_processes_is_bit_identical(tmp_path):
    """6 epochs straight vs. 3 epochs, SIGKILL, a new process, a new model, resume_from."""
    script = tmp_path / "run.py"
    script.write_text(RESUME)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ck = str(tmp_path / "ck.anynet")

    def run(mode):
        return subprocess.run([sys.executable, str(script), mode, ck, str(tmp_path / f"{mode}.npy")],
                              capture_output=True, text=True, env=env, timeout=120)

    killed = run("interrupted")
    assert killed.returncode == -9, killed.stderr
    assert an.load(ck).history.epoch == [0, 1, 2]
    straight, resumed = run("straight"), run("resumed")
    assert straight.returncode == 0 and resumed.returncode == 0, straight.stderr + resumed.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "straight.npy"), np.load(tmp_path / "resumed.npy"))
    assert straight.stdout == resumed.stdout  # the whole History, all six epochs
    assert "[0, 1, 2, 3, 4, 5]" in resumed.stdout


def test_resume_in_process_matches_and_history_is_whole(tmp_path):
    X, y = _data()
    a = _model()
    ha = a.fit(X, y, epochs=4, batch_size=16, verbose=0)
    b = _model()
    b.fit(X, y, epochs=2, batch_size=16, verbose=0, callbacks=[an.ModelCheckpoint(tmp_path / "c.anynet")])
    c = _model(seed=123)  # the seed does not matter: the file's generators are restored
    hc = c.fit(X, y, epochs=4, batch_size=16, verbose=0, resume_from=tmp_path / "c.anynet")
    _same_state(a, c)
    assert hc.history == ha.history and hc.epoch == [0, 1, 2, 3] and c.history is hc
    # resuming a finished run trains nothing and returns the saved History
    d = _model()
    hd = d.fit(X, y, epochs=2, batch_size=16, verbose=0, resume_from=tmp_path / "c.anynet")
    assert hd.epoch == [0, 1]


def test_readme_section_runs(tmp_path, monkeypatch, capsys):
    import re

    text = (ROOT / "README.md").read_text()
    block = lambda heading: re.search(r"```python\n(.*?)```", text[text.index(f"## {heading}"):], re.S).group(1)  # noqa: E731
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block("Quickstart"), "README quickstart", "exec"), namespace)
    exec(compile(block("Saving and resuming"), "README saving", "exec"), namespace)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.anynet", "ckpt.anynet", "model.anynet"]
    assert an.load("ckpt.anynet").history.epoch == list(range(20))


def test_seeded_dropout_streams_are_saved_and_checked(tmp_path):
    """A seeded Dropout's generator is saved by layer name next to the model's; a file that
    names another layer or holds a broken state is refused before anything is loaded."""
    X, y = _data()
    m = an.Sequential([L.Dense(8, activation=an.activations.ReLU(max_value=6.0)),
                       L.Dropout(0.25, noise_shape=(None, 8), seed=5, name="drop"), L.Dense(1, activation="sigmoid")],
                      seed=0)
    m.compile(optimizer="adam", loss="binary_crossentropy")
    m.fit(X, y, epochs=1, verbose=0)
    m.save(tmp_path / "m.anynet")
    doc = json.loads(tensorfile.read(tmp_path / "m.anynet")[1]["model"])
    assert sorted(doc["training"]["rng"]["layers"]) == ["drop"]
    assert doc["model"]["layers"][1]["config"] == {"rate": 0.25, "noise_shape": [None, 8], "seed": 5, "name": "drop"}
    assert doc["model"]["layers"][0]["config"]["activation"] == {
        "class": "relu", "config": {"negative_slope": 0.0, "max_value": 6.0, "threshold": 0.0}}
    back = an.load(tmp_path / "m.anynet")
    _same_state(m, back)

    def rename(d):
        d["training"]["rng"]["layers"] = {"dense": d["training"]["rng"]["layers"]["drop"]}

    def damage(d):
        d["training"]["rng"]["layers"]["drop"]["state"] = {"bit_generator": "MT19937"}

    for edit, pattern in [(rename, r"training.rng.layers holds the generators of seeded layers by name \(\['drop'\]"),
                          (damage, r"training.rng.layers\['drop'\] is not a state of the numpy generator")]:
        with pytest.raises(SaveFileError, match=pattern):
            an.load(rewrite(tmp_path / "m.anynet", tmp_path / "x.anynet", edit))
