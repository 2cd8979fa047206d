"""The safetensors layer under model files: memory stays bounded whatever a header declares,
shapes no array can have are damaged files, and tensors are read one at a time."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import anynet as an
from anynet import tensorfile
from anynet.errors import SaveFileError

ROOT = Path(__file__).resolve().parents[1]
GiB = 2**30


def _write_header(path: Path, header: dict, data: bytes = b"", size: int | None = None) -> Path:
    """Write a safetensors file with ``header``; ``size`` extends it sparsely (no blocks on disk)."""
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)
        if size is not None:
            f.truncate(8 + len(text) + size)
    return path


CRAFT = textwrap.dedent("""
    import json, os, resource, struct, sys
    import anynet as an
    from anynet.errors import SaveFileError
    folder, variant, huge = sys.argv[1], sys.argv[2], int(sys.argv[3])
    m = an.Sequential([an.layers.Dense(1)], seed=0).build((2,))
    m.save(os.path.join(folder, "small.anynet"))
    raw = open(os.path.join(folder, "small.anynet"), "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["params"] = {"dtype": "F32", "shape": [huge // 4], "data_offsets": [0, huge]}
    if variant == "weights":  # the file's own list of weights agrees with the tensor; its layers do not
        doc = json.loads(header["__metadata__"]["model"])
        doc["weights"] = [{"layer": "dense", "name": "W", "shape": [huge // 4]}]
        header["__metadata__"]["model"] = json.dumps(doc)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path = os.path.join(folder, "crafted.anynet")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + huge)  # sparse: a few KB on disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        an.load(path)
        outcome = "loaded"
    except SaveFileError as e:
        outcome = "SaveFileError: " + str(e)
    except BaseException as e:
        outcome = type(e).__name__ + ": " + str(e)
    grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"grew_kib": grew, "outcome": outcome, "disk": os.stat(path).st_blocks * 512,
                      "size": os.stat(path).st_size}))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB and sparse files as on Linux")
@pytest.mark.parametrize("variant, words", [
    ("tensor", r"declares tensor 'params' with shape \[268435456\], more values than the 3 parameters"),
    ("weights", r"The file lists weights \[\('W', \[268435456\]\)\], but its layers"),
])
def test_a_small_file_declaring_a_huge_tensor_allocates_nothing(tmp_path, variant, words):
    """A 4 KB file over a 1 GiB sparse extent: refused as damaged, and peak memory does not move."""
    import re

    script = tmp_path / "craft.py"
    script.write_text(CRAFT)
    p = subprocess.run([sys.executable, str(script), str(tmp_path), variant, str(GiB)], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.splitlines()[-1])
    assert got["size"] > GiB and got["disk"] < 1 << 20  # really sparse (the test means nothing otherwise)
    assert got["outcome"].startswith("SaveFileError: "), got
    assert re.search(words, got["outcome"]), got
    assert got["grew_kib"] < 32 * 1024, f"loading a {got['disk']} byte file raised peak memory by {got['grew_kib']} KiB"


@pytest.mark.parametrize("shape", [[2**63, 0], [2**62, 4, 0], [2**31, 2**31, 0], [1] * 65, [2**64 - 1, 0],
                                   [2**200, 0]])
def test_shapes_no_array_can_have_are_damaged_files(tmp_path, shape):
    path = _write_header(tmp_path / "s.st", {"a": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}})
    with pytest.raises(SaveFileError, match=r"tensor 'a' has shape .*, which no array can have"):
        tensorfile.read(path)
    with pytest.raises(SaveFileError):
        an.load(path)


def test_shape_products_that_overflow_int64_are_damaged_files(tmp_path):
    for shape, end in [([2**40, 2**40], 8), ([2**32, 2**32, 2], 0), ([2**61], 8)]:
        path = _write_header(tmp_path / "o.st", {"a": {"dtype": "F64", "shape": shape, "data_offsets": [0, end]}},
                             bytes(end))
        with pytest.raises(SaveFileError, match=r"tensor 'a' .*(no array can have|needs \d+ bytes)"):
            tensorfile.read(path)


def test_read_checks_the_header_and_reads_tensors_one_at_a_time(tmp_path):
    a = np.arange(1 << 20, dtype="f8")  # 8 MiB each
    tensorfile.write(tmp_path / "two.st", {"a": a, "b": -a}, {"k": "v"})
    tracemalloc.start()
    try:
        tensors, meta = tensorfile.read(tmp_path / "two.st")
        after_read = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        b = tensors["b"]
        after_one = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(b, -a)
    assert meta == {"k": "v"} and sorted(tensors) == ["a", "b"] and tensors.declared["a"] == ("F64", (1 << 20,))
    assert after_read < 1 << 20, f"read() allocated {after_read} bytes before any tensor was asked for"
    assert 8 << 20 <= after_one < 12 << 20, f"reading one 8 MiB tensor peaked at {after_one} bytes"
    b[0] = 5.0  # writable, and the mapping keeps what was read
    assert tensors["b"][0] == 5.0 and b.flags.writeable and b.dtype == np.dtype("f8")
    tensors["c"] = np.zeros(2)
    del tensors["a"]
    assert list(tensors) == ["b", "c"] and "a" not in tensors and len(tensors) == 2
    with pytest.raises(KeyError):
        tensors["a"]


def test_a_file_replaced_after_its_header_was_checked_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "m.st"
    tensorfile.write(path, {"a": np.zeros(3, "f4")})
    real = tensorfile._check_header

    def swap_after_checking(*args):
        out = real(*args)
        tensorfile.write(path, {"a": np.zeros(4, "f4")})  # another process saves in between
        return out

    monkeypatch.setattr(tensorfile, "_check_header", swap_after_checking)
    with pytest.raises(SaveFileError, match=r"changed while it was being read; try again"):
        tensorfile.read(path)


def test_writes_go_through_safetensors_and_stay_atomic(tmp_path, monkeypatch):
    st = pytest.importorskip("safetensors.numpy")
    arrays = {"big-endian": np.arange(3, dtype=">f4"), "strided": np.arange(12, dtype="i2").reshape(3, 4)[:, ::2]}
    tensorfile.write(tmp_path / "x.st", arrays, {"a": "b"})
    for k, v in st.load_file(str(tmp_path / "x.st")).items():
        np.testing.assert_array_equal(v, arrays[k])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.st"]
    with pytest.raises(an.errors.InputTypeError, match=r"dtype complex128, which safetensors cannot hold"):
        tensorfile.write(tmp_path / "y.st", {"z": np.zeros(2, complex)})
    with pytest.raises(an.errors.InputTypeError, match=r"metadata maps strings to strings"):
        tensorfile.write(tmp_path / "y.st", {}, {"n": 1})
    assert not (tmp_path / "y.st").exists()


# -- a small JSON dict of the user's own, saved with a model --------------------------------

def test_user_metadata_is_saved_with_the_model_and_read_without_the_weights(tmp_path):
    m = an.Sequential([an.layers.Dense(2)], seed=0).build((3,))
    note = {"preprocessing": {"divide_by": 255.0, "reshape": [-1, 3]}, "classes": ["cat", "dog"], "n": None}
    an.saving.save(m, tmp_path / "m.anynet", metadata=note)
    assert an.saving.read_metadata(tmp_path / "m.anynet") == note
    loaded = an.load(tmp_path / "m.anynet")
    assert loaded.metadata == note
    np.testing.assert_array_equal(loaded.params, m.params)
    m.save(tmp_path / "plain.anynet")
    assert an.load(tmp_path / "plain.anynet").metadata == {} == an.saving.read_metadata(tmp_path / "plain.anynet")


@pytest.mark.parametrize("bad, words", [
    ({"x": float("nan")}, r"metadata must hold JSON values"),
    ({"x": object()}, r"metadata must hold JSON values"),
    ({1: "a"}, r"metadata must be a dict with str keys"),
    (["a"], r"metadata must be a dict with str keys"),
    ({"x": "y" * 2_000_000}, r"at most 1000000 are saved with a model"),
])
def test_bad_user_metadata_is_refused_before_anything_is_written(tmp_path, bad, words):
    m = an.Sequential([an.layers.Dense(2)], seed=0).build((3,))
    with pytest.raises(an.errors.InputTypeError, match=words):
        an.saving.save(m, tmp_path / "m.anynet", metadata=bad)
    assert not (tmp_path / "m.anynet").exists()


def test_user_metadata_in_a_damaged_or_foreign_file_is_a_save_file_error(tmp_path):
    m = an.Sequential([an.layers.Dense(2)], seed=0).build((3,))
    an.saving.save(m, tmp_path / "m.anynet", metadata={"a": 1})
    tensors, meta = tensorfile.read(tmp_path / "m.anynet")
    tensorfile.write(tmp_path / "bad.anynet", dict(tensors), {**meta, "user": "[1, 2"})
    with pytest.raises(SaveFileError, match=r"has a 'user' metadata entry that is not a JSON object"):
        an.saving.read_metadata(tmp_path / "bad.anynet")
    with pytest.raises(SaveFileError):
        an.load(tmp_path / "bad.anynet")
    tensorfile.write(tmp_path / "plain.st", {"W": np.zeros(2)})
    with pytest.raises(SaveFileError, match=r"is not an anynet model file"):
        an.saving.read_metadata(tmp_path / "plain.st")
