"""Exports checked before anything reads them: each file against the size and sha256 in its metadata.

``videoswin_metadata.json`` records a size and a sha256 for every file of an export (for a SavedModel
folder, of its files without the metadata copy, see :func:`tf_videoswin.files.sha256_tree`). A loader calls
:func:`verify_export` with the path it is about to read; a file that was truncated, replaced or edited
(or a metadata entry that was) raises :class:`~tf_videoswin.errors.ExportFormatError` naming the file,
before TensorFlow or Keras read a byte of it. ``verify=False`` skips the check for exports edited on
purpose.

Digests are cached per process, keyed by path, size, mtime and inode: a second load of an unchanged
export hashes nothing, and any rewrite of a file changes its key.

:func:`named_read_errors` turns what TensorFlow, Keras and h5py raise on an unreadable file (a
truncated ``variables.data-*``: ``IndexError``, ``DataLossError``; a truncated ``.keras``:
``BadZipFile``) into the same error, so a damaged export is bad input (exit 2), never a traceback.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ExportFormatError, VideoSwinError
from ..files import sha256_file, sha256_tree
from .metadata import EXPORT_KINDS, METADATA_FILE, ExportFile, ExportMetadata, find_metadata_file
from .preset import is_preset

logger = logging.getLogger(__name__)

#: (real path, size, mtime_ns, inode) -> sha256 of the file's bytes.
_DIGESTS: dict[tuple[str, int, int, int], str] = {}
_DIGESTS_LOCK = threading.Lock()
_CHUNK = 1 << 22

F = TypeVar("F", bound=Callable[..., Any])

#: How to skip the check, appended to every mismatch message.
_OPT_OUT = "re-export it, or load it with --no-verify / verify=False if it was edited on purpose"


def cached_sha256(path: Path) -> str:
    """sha256 of a file's bytes, computed once per (path, size, mtime, inode) in this process."""
    st = path.stat()
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)
    with _DIGESTS_LOCK:
        cached = _DIGESTS.get(key)
    if cached is not None:
        return cached
    value = sha256_file(path, _CHUNK)
    with _DIGESTS_LOCK:
        _DIGESTS[key] = value
    return value


def _tree(path: Path) -> tuple[int, str]:
    """Size and digest of a file, or of a folder's files without the metadata copy, as the writer
    computed them (:func:`tf_videoswin.files.sha256_tree`, :func:`tf_videoswin.files.tree_size`)."""
    if path.is_file():
        return path.stat().st_size, cached_sha256(path)
    files = [p for p in _files(path) if p.name != METADATA_FILE]
    return sum(f.stat().st_size for f in files), sha256_tree(path, file_digest=cached_sha256, files=files)


def _files(path: Path) -> list[Path]:
    """The files under ``path``, through linked folders too (an export may be linked file by file or
    folder by folder, e.g. ``variables/``, and must verify as the files it shows)."""
    return [Path(root) / name for root, _, names in os.walk(path, followlinks=True) for name in names]


def verify_file(target: Path, entries: list[ExportFile], metadata_file: Path) -> None:
    """``target`` has the size and sha256 of one of ``entries`` (its record in ``metadata_file``).

    Raises:
        ExportFormatError: missing, unreadable, or another size or digest; the message names the file.
    """
    if not target.exists():
        raise ExportFormatError(f"{target}: listed in {metadata_file} but missing")
    try:
        size, digest = _tree(target)
    except OSError as e:
        raise ExportFormatError(f"{target}: cannot read ({e})") from e
    sizes = sorted({e.size_bytes for e in entries})
    if size not in sizes:
        recorded = " or ".join(map(str, sizes))
        raise ExportFormatError(
            f"{target}: {size} bytes, {metadata_file} records {recorded} (truncated or replaced); {_OPT_OUT}"
        )
    if digest not in {e.sha256 for e in entries if e.size_bytes == size}:
        raise ExportFormatError(
            f"{target}: sha256 {digest[:16]}... is not the one {metadata_file} records (modified or "
            f"replaced); {_OPT_OUT}"
        )


def verify_export(path: str | os.PathLike, verify: bool = True) -> None:
    """Check the file(s) a loader of ``path`` will read against the export's metadata.

    ``path`` is what :func:`tf_videoswin.load_export_model` and
    :func:`tf_videoswin.export.serving.load_serving` accept: an export folder (the file read is its
    ``.weights.h5``, else its ``.keras``, else a SavedModel, as the loader chooses), one SavedModel
    folder of it (also copied on its own, under any name), or a ``.keras`` file (checked where the
    metadata next to it lists it; a ``.keras`` file on its own has nothing to be checked against).

    Raises:
        ExportFormatError: a file differs from its record, or the metadata is missing or invalid.
    """
    if not verify:
        logger.info("%s: files not verified against the metadata (verify=False)", path)
        return
    path = Path(path)
    if path.suffix == ".keras":
        if not path.is_file() or not (path.parent / METADATA_FILE).is_file():
            return  # the loader reports a missing file; a lone .keras file has no record
        meta_file = path.parent / METADATA_FILE
        entry = ExportMetadata.read(meta_file).file(path.name)
        if entry is not None:
            verify_file(path, [entry], meta_file)
        return
    if is_preset(path):  # checked where the export that holds it lists it; on its own it has no record
        meta_file = path.parent / METADATA_FILE
        entry = ExportMetadata.read(meta_file).file(path.name) if meta_file.is_file() else None
        if entry is not None:
            verify_file(path, [entry], meta_file)
        return
    meta_file = find_metadata_file(path)
    meta = ExportMetadata.read(meta_file)
    if (path / "saved_model.pb").is_file():
        # A SavedModel copied on its own may have another name: it must be one of the recorded ones.
        own = meta.file(path.name)
        entries = [own] if own is not None else [f for f in meta.files if f.path in EXPORT_KINDS]
        if not entries:
            raise ExportFormatError(f"{meta_file} lists no SavedModel; {_OPT_OUT}")
        verify_file(path, entries, meta_file)
        return
    root = meta_file.parent
    by_format = {f.format: f for f in meta.files}
    for fmt in ("weights", "keras"):  # the loader's order of preference
        if fmt in by_format and (root / by_format[fmt].path).is_file():
            verify_file(root / by_format[fmt].path, [by_format[fmt]], meta_file)
            return
    kind = EXPORT_KINDS[0] if meta.architecture.num_classes else EXPORT_KINDS[1]
    entry = meta.file(kind)
    if entry is None:
        raise ExportFormatError(f"{meta_file} does not list {kind}; {_OPT_OUT}")
    verify_file(root / kind, [entry], meta_file)


def _read_errors() -> tuple[type[BaseException], ...]:
    """What TensorFlow, Keras and h5py raise on a damaged file (TensorFlow's only if it is loaded)."""
    errors: list[type[BaseException]] = [OSError, EOFError, IndexError, KeyError, ValueError]
    errors.append(zipfile.BadZipFile)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        errors.append(tf.errors.OpError)
    return tuple(errors)


def named_read_errors(func: F) -> F:
    """Decorate a loader whose first argument is the export path: a damaged file's low-level error
    becomes :class:`ExportFormatError` naming the path (the toolkit's own errors pass unchanged)."""

    @functools.wraps(func)
    def wrapper(path, *args, **kwargs):
        try:
            return func(path, *args, **kwargs)
        except VideoSwinError:
            raise
        except Exception as e:
            if not isinstance(e, _read_errors()):
                raise
            raise ExportFormatError(f"{path}: cannot read the export ({type(e).__name__}: {e})") from e

    return wrapper  # type: ignore[return-value]
