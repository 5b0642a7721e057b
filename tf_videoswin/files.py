"""Files written whole or not at all, and their digests: the one home of atomic writes and sha256.

- :func:`sha256_file` (chunked) and :func:`sha256_tree` (a folder's relative paths and contents, sorted);
- :func:`atomic_write` / :func:`atomic_write_text`: a hidden temporary file in the target's folder, flushed to
  disk (``fsync``) and renamed over the target; an error leaves the old file and no temporary;
- :func:`atomic_directory`: a temporary folder next to the target, renamed into place on success, under the
  target's one-writer lock (:mod:`tf_videoswin.output_lock`).

Files get the permissions any new file gets (``0666`` minus the umask), not ``mkstemp``'s ``0600``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .output_lock import OutputLock, lock_file_for, recover_directories, write_error

#: Bytes read at a time while hashing.
CHUNK_SIZE = 1 << 20


def sha256_file(path: str | os.PathLike, chunk_size: int = CHUNK_SIZE) -> str:
    """Hex sha256 of a file's bytes, read ``chunk_size`` bytes at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(
    path: str | os.PathLike,
    exclude: tuple[str, ...] = (),
    file_digest: Callable[[Path], str] = sha256_file,
    files: Iterable[Path] | None = None,
) -> str:
    """Hex sha256 of a file, or of a folder's files (relative paths and contents, sorted).

    Files named in ``exclude`` (at any depth) are left out, e.g. metadata written after the digest.
    ``file_digest`` hashes each file (e.g. a cached :func:`sha256_file`); ``files`` lists the folder's
    files (default: the files under it, linked folders not followed).
    """
    path = Path(path)
    if path.is_file():
        return file_digest(path)
    listed = (p for p in path.rglob("*") if p.is_file()) if files is None else files
    digest = hashlib.sha256()
    for file in sorted(p for p in listed if p.name not in exclude):
        digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        digest.update(bytes.fromhex(file_digest(file)))
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


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Move a finished file ``source`` over ``target`` (same folder): its bytes are flushed to disk first,
    so the rename never publishes a file whose content is still in flight."""
    _fsync(Path(source))
    os.replace(source, target)
    return Path(target)


def atomic_write(target: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Write ``target`` through a hidden temporary file in the same folder, then rename it into place.

    Readers see the old file or the new one, never a partial one; the content is on disk (``fsync``)
    before the rename; an exception leaves no temporary file behind. The file gets the permissions any
    new file gets (``0666`` minus the umask).

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
        replace_file(tmp, target)
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
