"""Keras-native files of a model: ``<name>.keras`` (architecture + weights), ``<name>.weights.h5`` and a
keras-hub preset folder ``preset/`` (:mod:`.preset`), each readable on every Keras backend.

Each file is reloaded right after it is written (``keras.saving.load_model``, or ``load_weights``
into the model the ``.keras`` file gave, zeroed first, else into a model rebuilt from the same config)
and must reproduce the in-memory model on the given inputs to float32 round-off; its size and sha256
go into the export's file list.
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
from ..files import sha256_tree, tree_size
from ..metrics import RELOAD_TOLERANCE, max_abs
from ..model.recognizer import Recognizer3D
from .metadata import ExportFile
from .preset import load_preset, save_preset

logger = logging.getLogger(__name__)

#: Format name -> file name template.
KERAS_FORMATS = {"keras": "{name}.keras", "weights": "{name}.weights.h5", "preset": "preset"}


def _reload(fmt: str, path: Path, model: Recognizer3D, reloaded: Recognizer3D | None) -> Recognizer3D:
    """``path`` loaded as a model. A weights file goes into ``reloaded`` (the model a ``.keras`` file of
    the same export gave) after every weight of it is zeroed, so that each must come from the file and no
    second model is built and traced; without one, into a model rebuilt from ``model``'s config."""
    if fmt == "keras":
        return keras.saving.load_model(path)
    if fmt == "preset":
        return load_preset(path)
    if reloaded is None:
        reloaded = Recognizer3D(
            model.config, **model.precision_config, name=model.name, dtype=model.dtype_policy
        )
    else:
        for weight in reloaded.weights:
            weight.assign(tf.zeros_like(weight))
    reloaded.load_weights(path)
    return reloaded


def _outputs(model: Recognizer3D, videos: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
    return [{k: v.numpy() for k, v in model(tf.constant(video), training=False).items()} for video in videos]


def _max_abs(expected: list[dict[str, np.ndarray]], actual: list[dict[str, np.ndarray]]) -> float:
    worst = 0.0
    for out_a, out_b in zip(expected, actual, strict=True):
        if set(out_a) != set(out_b):
            raise ExportCheckError(f"outputs differ: {sorted(out_a)} vs {sorted(out_b)}")
        worst = max([worst, *max_abs(out_a, out_b).values()])
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
        formats: any of ``"keras"``, ``"weights"``, ``"preset"``.
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
    expected, reloaded = _outputs(model, check_inputs), None
    for fmt in formats:
        if fmt not in KERAS_FORMATS:
            raise ValueError(f"unknown Keras format {fmt!r}; expected one of {sorted(KERAS_FORMATS)}")
        path = folder / KERAS_FORMATS[fmt].format(name=stem)
        if fmt == "keras":
            model.save(path)
        elif fmt == "preset":
            save_preset(model, path, variant=stem)
        else:
            model.save_weights(path)
        reloaded = _reload(fmt, path, model, reloaded)
        diff = _max_abs(expected, _outputs(reloaded, check_inputs))
        if not diff <= RELOAD_TOLERANCE:  # a reloaded Keras file: the model's outputs to round-off
            raise ExportCheckError(f"reloaded {path.name} differs from the model by {diff:.3e}")
        logger.info("wrote %s (reload max abs %.2e)", path, diff)
        written.append(
            ExportFile(
                path=path.name,
                format=fmt,
                sha256=sha256_tree(path),
                size_bytes=tree_size(path),
                kind="model",
                precision=precision,
                parity={"reload_max_abs": diff},
            )
        )
    return written
