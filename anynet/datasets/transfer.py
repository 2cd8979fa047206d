"""Moving bytes for :mod:`anynet.datasets.download`: an HTTP(S) GET with an overall deadline and a
progress line, and the partial (``.part``) files a killed download leaves behind."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import BinaryIO

__all__ = ["http_get", "Progress", "sweep_partial", "partial_prefix", "owner", "TIMEOUT_S", "STALE_S", "ENV_TIMEOUT"]

ENV_TIMEOUT = "ANYNET_DOWNLOAD_TIMEOUT"
TIMEOUT_S = 60  # the longest one read may wait for a byte
STALE_S = 3600  # a partial download nobody has written for this long is abandoned


class IncompleteDownload(OSError):
    """The server closed the connection before it sent the whole file."""


class Progress:
    """A one-line progress report on stderr, redrawn at most every 0.2 s."""

    def __init__(self, label: str, total: int | None, on: bool) -> None:
        self.label, self.total, self.on = label, total, on
        self.start = self.last = time.monotonic()

    def update(self, got: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.on or (now - self.last < 0.2 and not final):
            return
        self.last = now
        rate = got / max(now - self.start, 1e-9)
        share = f"{100 * got / self.total:3.0f}% of {self.total / 1e6:.1f} MB" if self.total else f"{got / 1e6:.1f} MB"
        sys.stderr.write(f"\r{self.label}: {share}, {rate / 1e6:.2f} MB/s" + ("\n" if final else ""))
        sys.stderr.flush()


def http_get(url: str, out: BinaryIO, seconds: float, progress: Progress | None = None) -> int:
    """Write the body at ``url`` to ``out``; return its size. Raises TimeoutError past ``seconds`` in all."""
    start = time.monotonic()
    request = urllib.request.Request(url, headers={"User-Agent": "anynet (https://pypi.org/project/anynet-nn)"})
    # each read waits at most this long, so the deadline is overshot by at most one read
    with urllib.request.urlopen(request, timeout=min(TIMEOUT_S, seconds)) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        if progress is not None:
            progress.total = total
        got = 0
        while True:
            if time.monotonic() - start > seconds:
                raise TimeoutError(f"gave up after {seconds:g} s (the deadline for this file, {ENV_TIMEOUT}): "
                                   f"got {got} of {total if total is not None else '?'} bytes")
            chunk = response.read1(1 << 16)  # whatever has arrived: a trickle cannot stall the deadline check
            if not chunk:
                break
            out.write(chunk)
            got += len(chunk)
            if progress is not None:
                progress.update(got)
    if progress is not None:
        progress.update(got, final=True)
    if total is not None and got != total:
        raise IncompleteDownload(f"the connection closed after {got} of {total} bytes")
    return got


def partial_prefix(name: str) -> str:
    """Return the prefix of a partial download's file name: ``.NAME.PID@HOST.``, so a later run can tell whose it is."""
    return f".{name}.{owner()}."


# -- partial files left by a download that was killed ------------------------------------------

def owner() -> str:
    """Return ``pid@host`` for the names of partial files, so a later run can tell whose they are."""
    return f"{os.getpid()}@{re.sub(r'[^A-Za-z0-9-]', '-', socket.gethostname())[:40]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but is someone else's
    return True


def sweep_partial(name: str, folder: Path) -> list[Path]:
    """Remove partial downloads of the file ``name`` in ``folder`` that nobody is writing any more; return them.

    A download killed part-way (SIGKILL, power loss) leaves its ``.part`` file behind. One
    is stale when the process named in it is gone from this host, or when it has not been
    written for an hour (a live download writes all the time, and gives up long before).
    """
    removed = []
    own = re.compile(rf"^\.{re.escape(name)}\.(\d+)@([A-Za-z0-9-]*)\..*\.part$")
    here = owner().split("@", 1)[1]
    for p in folder.glob(f".{glob.escape(name)}.*.part"):
        try:
            age = time.time() - p.stat().st_mtime
        except OSError:
            continue
        m = own.match(p.name)
        dead = m is not None and os.name == "posix" and m.group(2) == here and not _alive(int(m.group(1)))
        if dead or age > STALE_S:
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed
