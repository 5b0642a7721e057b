"""File utilities of the export floor: atomic directories and content digests."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..output_lock import OutputLock, lock_file_for, recover_directories, write_error


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: str | os.PathLike, exclude: tuple[str, ...] = ()) -> str:
    """Hex sha256 of a file, or of a directory's files (relative paths and contents, sorted).

    Files named in ``exclude`` (at any depth) are left out, e.g. metadata written after the digest.
    """
    path = Path(path)
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.name not in exclude):
        digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        digest.update(bytes.fromhex(sha256_file(file)))
    return digest.hexdigest()


def tree_size(path: str | os.PathLike) -> int:
    """Bytes of a file, or of all files under a directory."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``target``; on success it replaces ``target``.

    On any exception the temporary directory is removed and an existing ``target`` is untouched.
    An existing ``target`` is only replaced with ``overwrite``; it is moved aside first and
    restored if the final rename fails. One writer per target: the target's lock is held throughout,
    so the temporaries of a run that died (``kill -9``) are removed (and logged) by the next one.

    Raises:
        OutputBusyError: another live process writes ``target``.
        OutputWriteError: a full disk or another I/O error (also TensorFlow's, e.g. in ``SaveV2``).
        FileExistsError: ``target`` exists and not ``overwrite``.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(target, e) from e
    with OutputLock(target, lock_file_for(target, inside=False)):
        recover_directories(target.parent, glob.escape(target.name))
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} already exists; pass --overwrite to replace it")
        tmp = None
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
            os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; the result is an ordinary folder
            yield tmp
            _replace(tmp, target)
        except Exception as e:
            named = write_error(target, e)
            if named is None or named is e:
                raise
            raise named from e
        finally:
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _replace(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, moving an existing ``target`` aside first (restored on failure)."""
    backup = None
    if target.exists():
        backup = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, backup)
    try:
        os.replace(tmp, target)
    except BaseException:
        if backup is not None:
            os.replace(backup, target)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
