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
import time
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
        if self.mode == "trickle":  # the right bytes, one every quarter second: a mirror that never ends
            try:
                for i in range(len(data)):
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.25)
            except OSError:  # the client gave up
                pass
            return
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

    def interrupted(url, out, seconds, progress=None):
        out.write(b"\x1f\x8b partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(dl, "http_get", interrupted)
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


def test_without_pooch_files_load_and_download(serve, data_dir, tmp_path, monkeypatch):
    """Downloads need only the standard library: a bare install gets its data."""
    monkeypatch.setitem(sys.modules, "pooch", None)
    monkeypatch.setenv("ANYNET_DATA", str(data_dir))
    (_, y), _ = ds.load_mnist()
    assert y[:5].tolist() == [5, 0, 4, 1, 9]
    url, hits = serve("good")
    got = ds.fetch(SMALL, tmp_path, mirrors=[url])
    assert got.read_bytes() == (data_dir / SMALL).read_bytes() and hits == ["/" + SMALL]
    assert _leftovers(tmp_path) == [got.name]


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


# -- deadlines, progress, partial files, the message --------------------------------------------

def _bounded(fn, seconds: float):
    """Run fn() in a thread; fail (rather than hang the suite) if it takes longer than ``seconds``."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    start = time.monotonic()
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s: a trickling mirror hangs the download"
    return box, time.monotonic() - start


def test_a_trickling_mirror_is_given_up_on_and_the_next_is_tried(serve, data_dir, tmp_path):
    slow, hslow = serve("trickle")
    good, hgood = serve("good")
    box, took = _bounded(lambda: ds.fetch(SMALL, tmp_path, mirrors=[slow, good], timeout=1.0), 30)
    assert "error" not in box, box.get("error")
    assert box["value"].read_bytes() == (data_dir / SMALL).read_bytes()
    assert len(hslow) == 1 and len(hgood) == 1 and took < 10
    assert _leftovers(tmp_path) == [SMALL.rsplit("/", 1)[1]]


def test_only_trickling_mirrors_fail_within_the_deadline(serve, tmp_path, monkeypatch):
    slow, _ = serve("trickle")
    monkeypatch.setenv("ANYNET_DOWNLOAD_TIMEOUT", "0.8")
    box, took = _bounded(lambda: ds.fetch(SMALL, tmp_path, mirrors=[slow, slow]), 30)
    msg = str(box["error"])
    assert isinstance(box["error"], dl.DownloadError) and took < 10
    assert msg.count("gave up after 0.8 s (the deadline for this file, ANYNET_DOWNLOAD_TIMEOUT): got ") == 2, msg
    assert _leftovers(tmp_path) == []
    monkeypatch.setenv("ANYNET_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(InputError, match=r"ANYNET_DOWNLOAD_TIMEOUT is the seconds a download may take, a number > 0; "
                                         r"got 'soon'"):
        ds.fetch(SMALL, tmp_path, mirrors=[slow])
    with pytest.raises(InputError, match=r"timeout is the seconds .* got -1"):
        ds.fetch(SMALL, tmp_path, mirrors=[slow], timeout=-1)


def test_the_default_deadline_grows_with_the_file():
    big, small = dl.REGISTRY["fashion-mnist/train-images-idx3-ubyte.gz"], dl.REGISTRY[SMALL]
    assert dl.deadline(small) == pytest.approx(120 + 4542 / 100_000)
    assert dl.deadline(big) == pytest.approx(120 + 26421880 / 100_000)  # 26 MB at 100 kB/s: 6.4 minutes
    assert dl.deadline(dl.REGISTRY["keras/imdb.npz"]) == 600  # size unknown


def test_progress_is_reported(serve, tmp_path, capsys):
    url, _ = serve("good")
    ds.fetch(SMALL, tmp_path, mirrors=[url], progress=True)
    err = capsys.readouterr().err
    assert f"downloading {SMALL} from {url.split('//')[1]}: 100% of 0.0 MB" in err and err.endswith("\n")


KILLED = """
import sys
from anynet.datasets import fetch
fetch(sys.argv[1], sys.argv[2], mirrors=[sys.argv[3]], timeout=600)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_download_killed_part_way_leaves_no_part_file_behind(serve, data_dir, tmp_path):
    import subprocess

    slow, _ = serve("trickle")
    child = subprocess.Popen([sys.executable, "-c", KILLED, SMALL, str(tmp_path), slow])
    try:
        deadline = time.monotonic() + 60
        while not list((tmp_path / "mnist").glob("*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few bytes in
    finally:
        child.kill()
        child.wait(timeout=30)
    (part,) = (tmp_path / "mnist").glob("*.part")
    assert part.name.startswith(f".t10k-labels-idx1-ubyte.gz.{child.pid}@")
    # someone else's download in progress, and an abandoned one from another machine
    live = tmp_path / "mnist" / f".t10k-labels-idx1-ubyte.gz.{os.getpid()}@{dl.socket.gethostname()[:3]}x.1.part"
    ours = tmp_path / "mnist" / f".t10k-labels-idx1-ubyte.gz.{dl.transfer.owner()}.keep.part"
    old = tmp_path / "mnist" / ".t10k-labels-idx1-ubyte.gz.1@elsewhere.2.part"
    for p in (live, ours, old):
        p.write_bytes(b"partial")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    good, _ = serve("good")
    got = ds.fetch(SMALL, tmp_path, mirrors=[good])
    assert got.read_bytes() == (data_dir / SMALL).read_bytes()
    assert _leftovers(tmp_path) == sorted([got.name, live.name, ours.name])  # the killed and the abandoned are gone


def test_the_missing_data_message_leads_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    monkeypatch.setenv("ANYNET_OFFLINE", "1")
    with pytest.raises(dl.DownloadError) as e:
        ds.load_mnist()
    lines = str(e.value).splitlines()
    name = "mnist/train-images-idx3-ubyte.gz"
    assert lines[0] == (f"Cannot get {name}. To fix: set ANYNET_DATA to a folder that holds {name}, or put the file "
                        f"by hand at {str(tmp_path / name)!r}.")
    assert lines[1].startswith("Why: it is missing") and "ANYNET_OFFLINE='1'" in lines[1]
    assert lines[2].startswith("The file: 9912422 bytes, sha256 440fcabf") and len(lines) == 3
    assert all(len(line) < 200 + len(str(tmp_path)) for line in lines)


def test_failed_mirrors_are_listed_one_per_line(serve, tmp_path):
    missing, _ = serve("404")
    wrong, _ = serve("wrong")
    with pytest.raises(dl.DownloadError) as e:
        ds.fetch(SMALL, tmp_path, mirrors=[missing, wrong])
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"Cannot get {SMALL}. To fix: set ANYNET_DATA")
    assert lines[2].startswith(f"  {missing}/{SMALL}: HTTP 404 ") and lines[3].startswith(f"  {wrong}/{SMALL}: got")
    assert len(lines) == 5 and max(map(len, lines)) < 250
