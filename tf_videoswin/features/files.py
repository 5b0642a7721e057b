"""Atomic file writes with ordinary permissions (the umask's, not ``mkstemp``'s 0600)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from ..output_lock import write_error


def atomic_write(target: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write ``target`` through a hidden temporary file in the same folder, then rename it into place.

    Readers see the old file or the new one, never a partial one; an exception leaves no temporary
    file behind. The file gets the permissions any new file gets (``0666`` minus the umask).

    Args:
        target: the file to write.
        write: called with the temporary path; writes the whole content there.
    Returns:
        ``target`` as a :class:`~pathlib.Path`.
    Raises:
        OutputWriteError: an ``OSError`` while writing (e.g. ENOSPC), with nothing half-written left.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, target)
    except OSError as e:  # a full disk, no permission: named, and the old file is untouched
        named = write_error(target, e)
        if named is e:
            raise
        raise named from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def atomic_write_text(target: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
