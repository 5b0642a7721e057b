"""Per-video predictions of an evaluation, kept on disk as they are made so a run can resume.

Local engine: one CSV file, a row appended (and flushed) per video; a torn last line left by a crash
is cut off when the file is opened again. Columns: ``path, label, top1, top5, top5_probability``
(space-separated indices / probabilities, most probable first) and, with ``--compare-torch``,
``torch_top1, torch_max_prob_diff``. Ray engine: the Parquet parts of
:func:`tf_videoswin.features.ray_engine.predict_with_ray` (``path, variant, top_k_index, top_k_label,
top_k_probability``), read back here. Next to either, ``<out>.json`` records which model and views
made the predictions (a resumed run must use the same) and the last summary.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..files import atomic_write_text
from ..output_lock import write_error

COLUMNS = ("path", "label", "top1", "top5", "top5_probability", "torch_top1", "torch_max_prob_diff")


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One video's prediction (classes by decreasing probability) and, optionally, the reference's."""

    path: str
    label: int
    top_k: tuple[int, ...]
    top_k_probability: tuple[float, ...]
    torch_top1: int | None = None
    torch_max_prob_diff: float | None = None

    @property
    def top1(self) -> int:
        return self.top_k[0]

    def to_row(self) -> list[str]:
        return [
            self.path,
            str(self.label),
            str(self.top1),
            " ".join(map(str, self.top_k)),
            " ".join(f"{p:.8g}" for p in self.top_k_probability),
            "" if self.torch_top1 is None else str(self.torch_top1),
            "" if self.torch_max_prob_diff is None else f"{self.torch_max_prob_diff:.6g}",
        ]

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Prediction:
        return cls(
            path=row["path"],
            label=int(row["label"]),
            top_k=tuple(int(v) for v in row["top5"].split()),
            top_k_probability=tuple(float(v) for v in row["top5_probability"].split()),
            torch_top1=int(row["torch_top1"]) if row.get("torch_top1") else None,
            torch_max_prob_diff=float(row["torch_max_prob_diff"]) if row.get("torch_max_prob_diff") else None,
        )


class CsvPredictionStore:
    """Predictions keyed by path in an append-only CSV file (see the module docstring)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.rows: dict[str, Prediction] = {}
        if self.path.is_file():
            self._repair_tail()
            with open(self.path, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    try:
                        p = Prediction.from_row(row)
                    except (KeyError, ValueError, TypeError, AttributeError):
                        continue  # not a complete row
                    self.rows[p.path] = p

    def _repair_tail(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def __contains__(self, path: str) -> bool:
        return path in self.rows

    def add(self, prediction: Prediction) -> None:
        """Append one row (a later row for the same path replaces the earlier one when read)."""
        new = not self.path.is_file() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(prediction.to_row())
        size = self.path.stat().st_size if self.path.exists() else 0
        try:
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(buffer.getvalue())
                f.flush()
        except OSError as e:  # a full disk: cut the partial row, so the file holds whole rows only
            with contextlib.suppress(OSError):
                os.truncate(self.path, size)
            raise write_error(self.path, e) from e
        self.rows[prediction.path] = prediction


def read_parquet_predictions(out_dir: Path, labels: dict[str, int]) -> dict[str, Prediction]:
    """Predictions of the Ray engine's Parquet parts, for the paths in ``labels``."""
    import pyarrow.parquet as pq

    rows: dict[str, Prediction] = {}
    for part in sorted(out_dir.glob("part-*.parquet")):
        table = pq.read_table(part, columns=["path", "top_k_index", "top_k_probability"]).to_pydict()
        for path, index, prob in zip(
            table["path"], table["top_k_index"], table["top_k_probability"], strict=True
        ):
            if path in labels:
                rows[path] = Prediction(path, labels[path], tuple(index), tuple(prob))
    return rows


def sidecar_path(out: Path) -> Path:
    """``<out>.json`` for a CSV file, ``<out>/evaluation.json`` for a Parquet directory."""
    return out / "evaluation.json" if out.suffix != ".csv" else out.with_name(out.name + ".json")


def read_sidecar(out: Path) -> dict[str, Any] | None:
    path = sidecar_path(out)
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_sidecar(out: Path, data: dict[str, Any]) -> None:
    atomic_write_text(sidecar_path(out), json.dumps(data, indent=2) + "\n")


def remove_stale_temporaries(out: Path) -> list[Path]:
    """Temporaries of the sidecar and of Ray's parts left by a killed run (call holding the lock)."""
    from ..output_lock import remove_stale

    sidecar = sidecar_path(out)
    removed = remove_stale(sidecar.parent, [f".{sidecar.name}.*.tmp", f".{sidecar.name}.tmp"])
    return removed + (remove_stale(out, [".*.tmp"]) if out.is_dir() else [])


def remove_predictions(out: Path, paths: Iterable[Path] = ()) -> None:
    """Delete a previous evaluation's predictions (``--overwrite``)."""
    import shutil

    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    for extra in (sidecar_path(out), *paths):
        if extra.exists() and extra.is_file():
            extra.unlink()
