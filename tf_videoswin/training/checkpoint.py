"""Training checkpoints: the model, the optimizer, the accumulators and the loop's position, atomically.

``<work_dir>/checkpoints/iter-<iteration>/`` holds ``model.weights.h5`` (Keras weights),
``optimizer.npz`` (every AdamW variable of every parameter group: step count, learning rate, first
and second moments; and the gradient accumulators) and ``state.json`` (epoch, global iteration,
running sums of the epoch in progress, history, skipped videos). Each folder is written to a
temporary name and renamed when complete, so a crash never leaves a half checkpoint; the newest
``keep`` are kept. The data order and augmentations need no saved state: they are functions of the
seed, the epoch and the position (see :mod:`.data`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TrainingError
from ..files import atomic_directory, atomic_write_text

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
RUN_FILE = "run.json"
_PREFIX = "iter-"


@dataclasses.dataclass
class TrainingState:
    """Where the loop is, and what it has measured so far."""

    epoch: int = 0  # the epoch in progress (0-based); == epochs when training is done
    iteration: int = 0  # loader iterations done, over all epochs
    loss_sum: float = 0.0  # running sums of the epoch in progress
    hits: int = 0
    seen: int = 0
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    skipped: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def checkpoint_dirs(work_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = work_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX)]
    return sorted((p for p in found if (p / "state.json").is_file()), key=lambda p: p.name)


def save_checkpoint(work_dir: Path, model, optimizer, state: TrainingState, keep: int = 2) -> Path:
    """Write a checkpoint of the current iteration and keep the newest ``keep``."""
    target = work_dir / CHECKPOINTS / f"{_PREFIX}{state.iteration:09d}"
    with atomic_directory(target, overwrite=True) as tmp:
        model.save_weights(tmp / "model.weights.h5")
        np.savez(tmp / "optimizer.npz", **optimizer.state())
        (tmp / "state.json").write_text(json.dumps(state.to_dict(), indent=1) + "\n", encoding="utf-8")
    for old in checkpoint_dirs(work_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    logger.info("checkpoint %s", target)
    return target


def remove_stale_temporaries(work_dir: Path) -> list[Path]:
    """Half-written checkpoints and run files of a run that died (call holding the work dir's lock:
    then no live run owns them); each is logged."""
    from ..output_lock import recover_directories, remove_stale

    return recover_directories(work_dir / CHECKPOINTS, f"{_PREFIX}*") + remove_stale(
        work_dir, [f".{RUN_FILE}.tmp"]
    )


def load_checkpoint(path: Path, model, optimizer) -> TrainingState:
    """Restore model weights and optimizer state; return the loop's state.

    Raises:
        TrainingError: the checkpoint is unreadable or belongs to another model or recipe.
    """
    try:
        model.load_weights(path / "model.weights.h5")
        with np.load(path / "optimizer.npz", allow_pickle=False) as data:
            optimizer.load_state({k: data[k] for k in data.files})
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    except TrainingError:
        raise
    except (OSError, ValueError, KeyError) as e:
        raise TrainingError(f"{path}: cannot restore the checkpoint ({e})") from e
    return TrainingState.from_dict(state)


def read_run(work_dir: Path) -> dict[str, Any] | None:
    """The settings a run in ``work_dir`` was started with (``None``: no run there yet)."""
    path = work_dir / RUN_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise TrainingError(
            f"{path}: unreadable run settings ({e}); use another work dir or --restart"
        ) from e


def write_run(work_dir: Path, run: dict[str, Any]) -> None:
    atomic_write_text(work_dir / RUN_FILE, json.dumps(run, indent=1) + "\n")


def run_differences(
    saved: dict[str, Any], current: dict[str, Any], ignore: tuple[str, ...] = ()
) -> list[str]:
    """Keys whose values differ between a saved run and the current settings."""
    keys = (set(saved) | set(current)) - set(ignore)
    return sorted(k for k in keys if saved.get(k) != current.get(k))
