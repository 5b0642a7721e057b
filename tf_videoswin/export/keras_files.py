"""Keras-native files of a model: ``<name>.keras`` (architecture + weights) and ``<name>.weights.h5``.

Each file is reloaded right after it is written (``keras.saving.load_model``, or ``load_weights``
into a model rebuilt from the same config) and must reproduce the in-memory model on the given
inputs to float32 round-off; its size and sha256 go into the export's file list.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ..errors import ExportCheckError
from ..model.recognizer import Recognizer3D
from .files import sha256_file
from .metadata import ExportFile

logger = logging.getLogger(__name__)

#: Format name -> file name template.
KERAS_FORMATS = {"keras": "{name}.keras", "weights": "{name}.weights.h5"}
#: A reloaded Keras file must give the in-memory model's outputs to float32 round-off.
KERAS_RELOAD_TOLERANCE = 1e-6


def _reload(fmt: str, path: Path, model: Recognizer3D) -> Recognizer3D:
    if fmt == "keras":
        return keras.saving.load_model(path)
    fresh = Recognizer3D(model.config, precision=model.precision, name=model.name, dtype=model.dtype_policy)
    fresh.load_weights(path)
    return fresh


def max_abs_outputs(a: Recognizer3D, b: Recognizer3D, videos: Sequence[np.ndarray]) -> float:
    """Largest absolute difference over every output of two models on ``videos``."""
    worst = 0.0
    for video in videos:
        x = tf.constant(video)
        out_a, out_b = a(x, training=False), b(x, training=False)
        if set(out_a) != set(out_b):
            raise ExportCheckError(f"outputs differ: {sorted(out_a)} vs {sorted(out_b)}")
        for key in out_a:
            worst = max(worst, float(np.abs(out_a[key].numpy() - out_b[key].numpy()).max()))
    return worst


def save_keras_files(
    model: Recognizer3D,
    folder: str | os.PathLike,
    formats: Sequence[str],
    check_inputs: Sequence[np.ndarray],
    name: str | None = None,
    precision: str = "float32",
) -> list[ExportFile]:
    """Write the requested Keras formats into ``folder``, verify each by reloading it.

    Args:
        model: the model to save.
        folder: where to write (the export root).
        formats: any of ``"keras"``, ``"weights"``.
        check_inputs: clips on which the reloaded file must reproduce ``model``.
        name: file stem (default: the model's name).
        precision: recorded in the file list.
    Returns:
        One :class:`ExportFile` per file written, with its reload max-abs difference.
    Raises:
        ExportCheckError: a reloaded file differs from the model by more than 1e-6.
    """
    folder = Path(folder)
    stem = name or model.name
    written = []
    for fmt in formats:
        if fmt not in KERAS_FORMATS:
            raise ValueError(f"unknown Keras format {fmt!r}; expected one of {sorted(KERAS_FORMATS)}")
        path = folder / KERAS_FORMATS[fmt].format(name=stem)
        if fmt == "keras":
            model.save(path)
        else:
            model.save_weights(path)
        diff = max_abs_outputs(model, _reload(fmt, path, model), check_inputs)
        if not diff <= KERAS_RELOAD_TOLERANCE:
            raise ExportCheckError(f"reloaded {path.name} differs from the model by {diff:.3e}")
        logger.info("wrote %s (reload max abs %.2e)", path, diff)
        written.append(
            ExportFile(
                path=path.name,
                format=fmt,
                sha256=sha256_file(path),
                size_bytes=path.stat().st_size,
                kind="model",
                precision=precision,
                parity={"reload_max_abs": diff},
            )
        )
    return written
