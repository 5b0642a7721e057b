"""One writer per output: an advisory lock file, and the removal of temporaries of dead runs.

A writer takes :class:`OutputLock` on its output (a feature folder, a predictions file, an export
folder, a fine-tuning work dir) before it reads what the output holds and keeps it until it is done.
The lock is ``fcntl.flock`` on a small file that records the holder's pid: the kernel releases it when
the process dies (``kill -9`` included), so a lock that can be taken belongs to no live process, and
a second live writer is refused with :class:`~tf_videoswin.errors.OutputBusyError` naming the holder.

Holding the lock also means that every temporary file of that output was left by a dead run (a live
one would hold the lock): :func:`remove_stale` deletes them and logs each. Pure Python (POSIX); where
``fcntl`` is missing (Windows) the lock is not taken.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import shutil
import socket
import sys
from collections.abc import Iterable
from pathlib import Path

from .errors import OutputBusyError, OutputWriteError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)


def lock_file_for(output: str | os.PathLike, inside: bool) -> Path:
    """Where the lock of ``output`` lives: ``output/.videoswin.lock`` for a folder that persists
    (``inside``), else ``.<name>.lock`` next to it (a file, or a folder replaced by renaming)."""
    output = Path(output).absolute()  # "." has no name to put next to its parent
    return output / ".videoswin.lock" if inside else output.with_name(f".{output.name}.lock")


class OutputLock:
    """An exclusive, non-blocking lock on one output; a context manager.

    Args:
        output: what is written (named in the error).
        lock_file: the lock's file (see :func:`lock_file_for`); its folder is created.
    Raises:
        OutputBusyError: another live process holds the lock (on :meth:`acquire`).
    """

    def __init__(self, output: str | os.PathLike, lock_file: str | os.PathLike) -> None:
        self.output = Path(output)
        self.path = Path(lock_file)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> OutputLock:
        if self._fd is not None or fcntl is None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputBusyError(
                    f"{self.output} is being written by another process ({holder}; lock {self.path}): "
                    "one writer per output; wait for it to finish, or write to another output"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            # The previous holder removed the file between our open and our lock: lock the new one.
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and unlock (in this order, so no one locks a file about to vanish
        unnoticed: :meth:`acquire` checks that the file it locked is still the one at the path)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
        os.close(self._fd)  # closing the descriptor releases the flock
        self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"


def remove_stale(folder: str | os.PathLike, patterns: Iterable[str]) -> list[Path]:
    """Delete the files and folders in ``folder`` that match ``patterns`` (globs), and log each.

    Call it only while holding the output's :class:`OutputLock`: then no live writer owns them.
    """
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
            except FileNotFoundError:
                continue
            except OSError as e:
                logger.warning("could not remove the stale temporary %s (%s)", path, e)
                continue
            logger.warning("removed %s, a temporary left by an interrupted run", path)
            removed.append(path)
    return removed


#: Words of TensorFlow's messages for a failed write (its ``OpError`` s are not ``OSError`` s).
_DISK_MESSAGES = (
    "No space left on device",
    "Disk quota exceeded",
    "Read-only file system",
    "Permission denied",
    "Input/output error",
)


def write_error(target: str | os.PathLike, e: BaseException) -> OutputWriteError | None:
    """The :class:`OutputWriteError` for what a write of ``target`` raised: an ``OSError``, or a
    TensorFlow error about the disk (``SaveV2`` on a full disk); ``None`` for anything else."""
    if isinstance(e, OutputWriteError):
        return e
    if isinstance(e, OSError):
        reason = e.strerror or str(e)
        full = e.errno in (errno.ENOSPC, errno.EDQUOT)
    else:
        tf = sys.modules.get("tensorflow")
        text = str(e)
        if tf is None or not isinstance(e, tf.errors.OpError):
            return None
        found = [m for m in _DISK_MESSAGES if m in text]
        if not found:
            return None
        reason, full = found[0], found[0] in _DISK_MESSAGES[:2]
    hint = " (free some space, or write elsewhere)" if full else ""
    return OutputWriteError(f"{target}: cannot write: {reason}{hint}; the previous output is unchanged")


def recover_directories(parent: str | os.PathLike, name: str = "*") -> list[Path]:
    """Leftovers of :func:`tf_videoswin.files.atomic_directory` runs that died, for targets
    matching ``name`` in ``parent``: temporaries are removed; a moved-aside old copy is put back
    where its target is missing (the run died between the two renames), else removed. Logged.

    Call it only while holding the target's :class:`OutputLock`.
    """
    parent = Path(parent)
    removed = remove_stale(parent, [f".{name}.tmp-*"])
    for old in sorted(parent.glob(f".{name}.old-*")):
        target = parent / old.name[1:].rsplit(".old-", 1)[0]
        if not target.exists():
            os.replace(old, target)
            logger.warning("restored %s from %s, moved aside by an interrupted run", target, old)
        else:
            removed += remove_stale(parent, [old.name])
    return removed


def recover_target(target: str | os.PathLike) -> list[Path]:
    """:func:`recover_directories` for one target folder, under its lock; nothing while a live process
    writes it (its temporaries are its own). For commands that may end without writing (an export
    already up to date), so a killed run's leftovers go all the same."""
    target = Path(target)
    if not target.parent.is_dir():
        return []
    try:
        with OutputLock(target, lock_file_for(target, inside=False)):
            return recover_directories(target.parent, glob.escape(target.name))
    except OutputBusyError:
        return []
