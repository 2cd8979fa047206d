"""Downloads: the real download path against HTTP servers on 127.0.0.1, never the internet.

The servers serve the shared data folder (the ``data_dir`` fixture): one serves it as it
is, one drops the connection half-way through a file, one serves the right number of
wrong bytes, one answers 404. Every test passes its mirrors explicitly or through
``ANYNET_MIRRORS``, so no request leaves this machine.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import anynet.datasets as ds
from anynet.datasets import download as dl
from anynet.errors import InputError

pytest.importorskip("pooch", reason="downloads need pooch (pip install 'anynet-nn[data]')")

SMALL = "mnist/t10k-labels-idx1-ubyte.gz"  # 4542 bytes


class _Handler(http.server.SimpleHTTPRequestHandler):
    mode = "good"
    hits: list[str]

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        self.hits.append(self.path)
        if self.mode == "good":
            return super().do_GET()
        if self.mode == "404":
            return self.send_error(404)
        f = Path(self.translate_path(self.path))
        if not f.is_file():
            return self.send_error(404)
        data = f.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.mode == "drop":  # half the file, then the connection goes away
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
        else:  # "wrong": as many bytes as the file has, but not its bytes
            self.wfile.write(bytes(b ^ 0x5A for b in data))


@pytest.fixture
def serve(data_dir, monkeypatch) -> Iterator:
    """serve(mode) -> (base URL on 127.0.0.1 serving the shared data folder, list of paths requested)."""
    for var in ("NO_PROXY", "no_proxy"):  # a proxy must not intercept 127.0.0.1
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    monkeypatch.delenv("ANYNET_MIRRORS", raising=False)
    monkeypatch.delenv("ANYNET_OFFLINE", raising=False)
    servers = []

    def start(mode: str) -> tuple[str, list[str]]:
        hits: list[str] = []
        handler = type(f"Handler_{mode}", (_Handler,), {"mode": mode, "hits": hits})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), lambda *a, **k: handler(*a, directory=str(data_dir), **k))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", hits

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_verifies_and_is_used_without_network_afterwards(serve, data_dir, tmp_path):
    url, hits = serve("good")
    got = ds.fetch(SMALL, tmp_path, mirrors=[url])
    assert got == tmp_path / SMALL
    assert got.read_bytes() == (data_dir / SMALL).read_bytes()
    assert hits == ["/" + SMALL]
    assert ds.fetch(SMALL, tmp_path, mirrors=[url]) == got and len(hits) == 1  # verified copy: no request
    assert _leftovers(tmp_path) == [got.name]  # no temporary file left


def test_load_mnist_downloads_into_the_data_root(serve, tmp_path, monkeypatch):
    url, hits = serve("good")
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    monkeypatch.setenv("ANYNET_MIRRORS", url)
    (x, y), (xt, yt) = ds.load_mnist()
    assert x.shape == (60000, 28, 28) and yt.shape == (10000,) and y[:5].tolist() == [5, 0, 4, 1, 9]
    assert len(hits) == 4 and _leftovers(tmp_path) == sorted(f.rsplit("/", 1)[1] for f in dl.REGISTRY
                                                             if f.startswith("mnist/"))
    ds.load_mnist()
    assert len(hits) == 4


@pytest.mark.parametrize("mode, words", [("drop", "2271"),  # half of the 4542 bytes, then the cut
                                         ("wrong", "got 4542 bytes with sha256")])
def test_bad_download_leaves_no_file_and_says_why(serve, tmp_path, mode, words):
    url, hits = serve(mode)
    with pytest.raises(dl.DownloadError) as e:
        ds.fetch(SMALL, tmp_path, mirrors=[url])
    msg = str(e.value)
    assert f"{url}/{SMALL}: " in msg and words in msg.split(f"{url}/{SMALL}: ")[1], msg
    item = dl.REGISTRY[SMALL]
    for part in (SMALL, item.sha256, str(tmp_path / SMALL), "by hand", url, "No partial file"):
        assert part in msg, (part, msg)
    assert _leftovers(tmp_path) == [] and len(hits) == 1
    assert isinstance(e.value, InputError)


def test_mirrors_are_tried_in_turn(serve, tmp_path, data_dir):
    missing, h404 = serve("404")
    dropping, hdrop = serve("drop")
    wrong, hwrong = serve("wrong")
    good, hgood = serve("good")
    got = ds.fetch(SMALL, tmp_path, mirrors=[missing, dropping, wrong, good])
    assert got.read_bytes() == (data_dir / SMALL).read_bytes()
    assert [len(h) for h in (h404, hdrop, hwrong, hgood)] == [1, 1, 1, 1]
    assert _leftovers(tmp_path) == [got.name]


def test_all_mirrors_failing_lists_each(serve, tmp_path):
    missing, _ = serve("404")
    wrong, _ = serve("wrong")
    with pytest.raises(dl.DownloadError) as e:
        ds.fetch(SMALL, tmp_path, mirrors=f"{missing} {wrong}")
    msg = str(e.value)
    assert f"{missing}/{SMALL}: " in msg and "404" in msg and f"{wrong}/{SMALL}: got 4542 bytes" in msg


def test_truncated_cached_file_is_detected_and_replaced(serve, data_dir, tmp_path, monkeypatch):
    url, hits = serve("good")
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    monkeypatch.setenv("ANYNET_MIRRORS", url)
    name = "mnist/t10k-images-idx3-ubyte.gz"
    for f in dl.REGISTRY:
        if f.startswith("mnist/"):
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_dir / f, tmp_path / f)
    cut = tmp_path / name
    cut.write_bytes(cut.read_bytes()[:100000])  # the classic half-downloaded file
    with pytest.raises(dl.DownloadError, match="damaged") as e:  # not parsed: no gzip error
        ds.load_mnist(download=False)
    assert "100000 bytes" in str(e.value) and dl.REGISTRY[name].sha256 in str(e.value)
    (_, _), (xt, _) = ds.load_mnist()
    assert xt.shape == (10000, 28, 28) and hits == ["/" + name]
    assert cut.read_bytes() == (data_dir / name).read_bytes()


def test_altered_file_of_the_right_size_is_replaced(serve, data_dir, tmp_path):
    url, hits = serve("good")
    dest = tmp_path / SMALL
    dest.parent.mkdir(parents=True)
    data = bytearray((data_dir / SMALL).read_bytes())
    data[-1] ^= 1
    dest.write_bytes(bytes(data))
    ds.fetch(SMALL, tmp_path, mirrors=[url])
    assert dest.read_bytes() == (data_dir / SMALL).read_bytes() and len(hits) == 1


def test_interrupted_download_leaves_nothing(serve, tmp_path, monkeypatch):
    url, _ = serve("good")

    def interrupted(self, url, output_file, pooch, check_only=False):
        output_file.write(b"\x1f\x8b partial")
        raise KeyboardInterrupt

    monkeypatch.setattr("pooch.downloaders.HTTPDownloader.__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ds.fetch(SMALL, tmp_path, mirrors=[url])
    assert _leftovers(tmp_path) == []


def test_offline_or_download_false_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    monkeypatch.setenv("ANYNET_OFFLINE", "1")
    with pytest.raises(dl.DownloadError) as e:
        ds.load_boston_housing()
    msg = str(e.value)
    item = dl.REGISTRY["keras/boston_housing.npz"]
    for part in ("keras/boston_housing.npz", item.sha256, "57026 bytes", str(tmp_path / item.path), item.urls[0],
                 "ANYNET_OFFLINE", f"ANYNET_DATA={str(tmp_path)!r}"):
        assert part in msg, (part, msg)
    monkeypatch.delenv("ANYNET_OFFLINE")
    with pytest.raises(dl.DownloadError, match=r"downloading is off \(download=False\)"):
        ds.fetch("keras/boston_housing.npz", download=False)


def test_without_pooch_local_files_load_and_missing_ones_name_the_extra(data_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pooch", None)
    monkeypatch.delenv("ANYNET_OFFLINE", raising=False)
    monkeypatch.setenv("ANYNET_DATA", str(data_dir))
    (_, y), _ = ds.load_mnist()
    assert y[:5].tolist() == [5, 0, 4, 1, 9]
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    with pytest.raises(dl.DownloadError) as e:
        ds.load_mnist()
    assert "pip install 'anynet-nn[data]'" in str(e.value) and "by hand" in str(e.value)
    assert _leftovers(tmp_path) == []


def test_verification_is_remembered_by_size_and_mtime(tmp_path, monkeypatch):
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    sha = hashlib.sha256(b"abc").hexdigest()
    assert dl.is_verified(f, sha)

    class Boom:
        def __init__(self, *a):
            raise AssertionError("hashed again")

    monkeypatch.setattr(dl.hashlib, "sha256", Boom)
    assert dl.is_verified(f, sha)  # same size and mtime: not hashed again
    monkeypatch.undo()
    f.write_bytes(b"abd")
    os.utime(f, ns=(1, 1))
    assert not dl.is_verified(f, sha) and not dl.is_verified(tmp_path / "none", sha)


def test_mirror_urls_from_argument_and_environment(monkeypatch):
    item = dl.REGISTRY[SMALL]
    monkeypatch.delenv("ANYNET_MIRRORS", raising=False)
    assert dl.mirror_urls(item) == list(item.urls) and item.urls[0].startswith("https://")
    monkeypatch.setenv("ANYNET_MIRRORS", "http://127.0.0.1:1/a/, http://127.0.0.1:2")
    assert dl.mirror_urls(item) == [f"http://127.0.0.1:1/a/{SMALL}", f"http://127.0.0.1:2/{SMALL}"]
    assert dl.mirror_urls(item, ["http://h"]) == [f"http://h/{SMALL}"]


def test_unknown_registry_name():
    with pytest.raises(InputError, match="Unknown data file 'mnist/train-images.gz'.*Did you mean"):
        ds.fetch("mnist/train-images.gz")


def test_registry_matches_the_shared_files(data_dir):
    """Every registry file present in the shared folder has the registry's size and SHA-256."""
    present = [item for item in dl.REGISTRY.values() if (data_dir / item.path).is_file()]
    assert len(present) >= 10
    for item in present:
        f = data_dir / item.path
        assert item.size is None or f.stat().st_size == item.size, item.path
        assert dl.sha256_of(f) == item.sha256, item.path


def test_default_data_root(tmp_path, monkeypatch):
    import pooch

    monkeypatch.delenv("ANYNET_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert ds.data_dir() == Path(pooch.os_cache("anynet")) == tmp_path / "cache" / "anynet"
    (tmp_path / ".anynet" / "data").mkdir(parents=True)  # files put where earlier versions said
    assert ds.data_dir() == tmp_path / ".anynet" / "data"
