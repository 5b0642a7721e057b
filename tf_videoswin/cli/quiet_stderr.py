"""Drop TensorFlow's C++ start-up chatter from a command's stderr, keep everything else.

TensorFlow 2.21 logs through absl before absl is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` no longer
silences it: every process prints the oneDNN notice, CUDA probes and ``cpu_feature_guard`` lines
(and more on the first operation). The only reliable filter is at the file descriptor: fd 2 becomes a
pipe, a thread copies what arrives to the real stderr line by line and drops lines in glog's format
(``I0000 00:00:1795567281.658 10921 port.cc:153] ...``) and absl's preamble. Python's own messages,
error lines and tqdm progress bars pass through unchanged.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

#: A glog/absl line (severity I/W/E, date, time, thread, file:line]) or the notices around them.
_CHATTER = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|To enable the following instructions: )"
)
_PREFIXES = (b"WARNING: All log messages before absl", b"To enable the following instructions")


def _may_become_chatter(partial: bytes) -> bool:
    """Whether an unfinished line could still turn out to be chatter (then it waits for its newline)."""
    if partial[:1] in (b"I", b"W", b"E") and (len(partial) == 1 or partial[1:2].isdigit()):
        return True
    return any(p.startswith(partial[: len(p)]) for p in _PREFIXES)


def filter_chunk(buffer: bytes) -> tuple[bytes, bytes]:
    """``(bytes to write, bytes to keep for later)``: whole lines minus chatter, then any partial
    line that cannot be chatter (progress bars are written without a newline)."""
    out = []
    while (end := buffer.find(b"\n")) >= 0:
        line, buffer = buffer[: end + 1], buffer[end + 1 :]
        if not _CHATTER.match(line):
            out.append(line)
    if buffer and not _may_become_chatter(buffer):
        out.append(buffer)
        buffer = b""
    return b"".join(out), buffer


class StderrFilter:
    """fd 2 through :func:`filter_chunk` until :meth:`close` (registered to run at exit)."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._thread = threading.Thread(target=self._pump, name="stderr-filter", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self._read_end, 1 << 16):
            text, pending = filter_chunk(pending + chunk)
            if text:
                os.write(self._real, text)
        if pending and not _CHATTER.match(pending):
            os.write(self._real, pending)
        os.close(self._read_end)

    def close(self) -> None:
        """Restore fd 2; the pipe then reaches end of file and the thread writes what is left."""
        if self._real < 0:
            return
        sys.stderr.flush()
        os.dup2(self._real, 2)
        self._thread.join(timeout=2.0)
        os.close(self._real)
        self._real = -1


_active: StderrFilter | None = None


def install() -> None:
    """Filter this process's stderr, once; only before TensorFlow loads (inside a program that already
    imported it, e.g. a notebook or a test run, nothing changes)."""
    global _active
    if _active is None and "tensorflow" not in sys.modules:
        _active = StderrFilter()
