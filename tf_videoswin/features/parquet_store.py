"""A feature folder: Parquet parts appended batch by batch, resumable, one layout for both engines.

::

    OUT/
      part-000001-<id>.parquet   rows of finished videos (pd.read_parquet(OUT) reads every part)
      part-000002-<id>.parquet   ... one part per batch of videos, each written whole or not at all
      _manifest.json             variant, mode and options every row follows (FeatureManifest)
      _errors.json               the videos of the last run that failed, with the reason
      _npy/<video_id>.npy        snippet mode: float32 [n_snippets, C] (ActionFormer/TriDet layout)
      _npy/<video_id>.json       snippet mode: fps, stride, span and each snippet's start and end

Names that start with ``_`` or ``.`` are the ones Parquet readers skip (pyarrow, pandas, Spark), so the
folder reads as one table: ``pandas.read_parquet(OUT)`` or ``pyarrow.parquet.read_table(OUT)``. A
plain ``errors.json`` would make those readers fail on the folder.

Appending costs one new file per batch: nothing already written is read again except the ``path``
column when a run starts (to skip finished videos). A video's rows always go into one part, so a path
present in a part is complete.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

import numpy as np

from ..errors import FeatureStoreError
from ..files import atomic_write, atomic_write_text
from ..optional import require
from ..output_lock import OutputLock, lock_file_for, remove_stale
from .manifest import MANIFEST_FILE, FeatureManifest
from .npy_layout import NPY_DIR, NpyLayout
from .results import SnippetFeatures, VideoFeatures
from .table import arrow_schema, results_table

logger = logging.getLogger(__name__)

ERRORS_FILE = "_errors.json"
PART_GLOB = "part-*.parquet"


def part_files(folder: str | os.PathLike) -> list[Path]:
    """The Parquet parts of a feature folder, in the order they were written."""
    return sorted(Path(folder).glob(PART_GLOB))


def paths_in_parts(folder: str | os.PathLike) -> set[str]:
    """The video paths present in the Parquet parts of ``folder`` (empty when it does not exist)."""
    import pyarrow.parquet as pq

    paths: set[str] = set()
    for part in part_files(folder):
        paths.update(pq.read_table(part, columns=["path"]).column("path").to_pylist())
    return paths


def write_part(folder: str | os.PathLike, table) -> Path:
    """A new Parquet part ``part-<n>-<id>.parquet`` of ``folder`` holding ``table``; visible only once
    complete (a failed write leaves nothing but a temporary that the next writer removes)."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    name = f"part-{len(part_files(folder)) + 1:06d}-{uuid.uuid4().hex[:8]}.parquet"
    return atomic_write(folder / name, lambda tmp: pq.write_table(table, tmp))


def read_features(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{path: pooled}`` of a feature folder (one vector per video)."""
    table = read_table(folder, columns=["path", "pooled"])
    return {
        path: np.asarray(pooled, np.float32)
        for path, pooled in zip(
            table.column("path").to_pylist(), table.column("pooled").to_pylist(), strict=True
        )
    }


def read_table(folder: str | os.PathLike, columns: list[str] | None = None):
    """All rows of a feature folder as one ``pyarrow.Table`` (the manifest's schema, parts in order),
    each video's rows once (a folder written by two processes at once holds some twice).

    Raises:
        FeatureStoreError: not a feature folder.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder)
    manifest = FeatureManifest.read(folder)
    schema = arrow_schema(manifest)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    tables, seen = [], set()
    for part in part_files(folder):
        wanted = columns if columns is None or "path" in columns else [*columns, "path"]
        table = pq.read_table(part, columns=wanted)
        paths = table.column("path").to_pylist()
        # A video's rows are all in one part; a later part holding it again (two writers of an older
        # version) is a duplicate: keep the first part's rows.
        repeated = seen.intersection(paths)
        if repeated:
            logger.warning("%s: %d videos already in an earlier part; rows skipped", part, len(repeated))
            table = table.filter(pa.array([p not in repeated for p in paths], pa.bool_()))
        seen.update(paths)
        tables.append(table.select(columns) if columns is not None else table)
    return pa.concat_tables(tables) if tables else schema.empty_table()


class ParquetFeatureStore:
    """Writes results into a feature folder, a part per :meth:`flush`.

    Args:
        folder: the output directory (created if missing).
        manifest: what the rows are; must equal the folder's manifest if it has one.
    Raises:
        FeatureStoreError: ``folder`` is a file, holds rows of other options, or holds Parquet parts
            but no manifest.
    """

    def __init__(self, folder: str | os.PathLike, manifest: FeatureManifest) -> None:
        require("pyarrow", "writing features as Parquet")
        self.folder = Path(folder)
        self.manifest = manifest
        if self.folder.exists() and not self.folder.is_dir():
            raise FeatureStoreError(f"{self.folder} is a file; --out names a folder of Parquet parts")
        if (self.folder / MANIFEST_FILE).exists():
            existing = FeatureManifest.read(self.folder)
            diff = existing.differences(manifest)
            if diff:
                raise FeatureStoreError(
                    f"{self.folder} holds features made with other options ({'; '.join(diff)}); "
                    "run with the same options to extend it, or write to another --out"
                )
        elif part_files(self.folder):
            raise FeatureStoreError(
                f"{self.folder} has Parquet parts but no {MANIFEST_FILE} (written by an older version?); "
                "write to another --out"
            )
        self.done: set[str] = set()
        self._read_done()
        self.npy = NpyLayout(self.folder / NPY_DIR, manifest.variant) if manifest.mode == "snippets" else None
        self._pending: list[VideoFeatures | SnippetFeatures] = []
        self.rows_written = 0
        self.lock = OutputLock(self.folder, lock_file_for(self.folder, inside=False))

    def _read_done(self) -> None:
        self.done.update(paths_in_parts(self.folder))

    def open(self) -> ParquetFeatureStore:
        """Create the folder and its manifest (once the run is known to be valid), as its only writer.

        Raises:
            OutputBusyError: another live process writes this folder.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        # Holding the lock: temporaries here are a dead run's, and rows written by a run that ended
        # since __init__ are read now, so no video is written twice.
        remove_stale(self.folder, [".*.tmp", f"{NPY_DIR}/.*.tmp"])
        self._read_done()
        if not (self.folder / MANIFEST_FILE).exists():
            self.manifest.write(self.folder)
        return self

    def close(self) -> None:
        """Release the folder (buffered rows are not written: :meth:`flush` first)."""
        self.lock.release()

    def __contains__(self, path: str) -> bool:
        return str(path) in self.done

    @property
    def pending_videos(self) -> int:
        """Videos added since the last :meth:`flush`."""
        return len(self._pending)

    def add(self, result: VideoFeatures | SnippetFeatures) -> None:
        """Buffer a video's rows (written by the next :meth:`flush`); snippet files are written now."""
        if self.npy is not None:
            self.npy.write(result)
        self._pending.append(result)

    def flush(self) -> None:
        """Write the buffered videos as one new part (nothing happens without any)."""
        if not self._pending:
            return
        table = results_table(self._pending, self.manifest)
        name = write_part(self.folder, table).name
        self.done.update(r.path for r in self._pending)
        self.rows_written += table.num_rows
        logger.info("%s: %d videos, %d rows", name, len(self._pending), table.num_rows)
        self._pending.clear()

    @property
    def errors_path(self) -> Path:
        return self.folder / ERRORS_FILE

    def write_errors(self, errors: list[dict]) -> None:
        """``_errors.json``: ``[{"path", "error"}]`` of the videos that failed in this run."""
        atomic_write_text(self.errors_path, json.dumps(errors, indent=2) + "\n")


def export_file(folder: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Every row of a feature folder in one Parquet file ``target`` (written atomically).

    Args:
        folder: a feature folder.
        target: the file to write (``.parquet``).
    Returns:
        ``target``.
    """
    import pyarrow.parquet as pq

    table = read_table(folder)
    return atomic_write(target, lambda tmp: pq.write_table(table, tmp))
