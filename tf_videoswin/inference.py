"""Loading an export and running it on video views: shared by the predict and feature CLIs."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np

from .variants import Preprocessing, VariantConfig, get_variant

logger = logging.getLogger(__name__)

METADATA_FILE = "videoswin_metadata.json"
DEFAULT_VARIANT = "swin_tiny_patch244_window877_kinetics400_1k"


class ExportLoadError(RuntimeError):
    """A directory that is not a usable export."""


def read_export_metadata(export: str | os.PathLike) -> dict:
    """The export's metadata (in the SavedModel folder or its parent), ``{}`` if absent."""
    export = Path(export)
    for path in (export / METADATA_FILE, export.parent / METADATA_FILE):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    return {}


def export_variant(export: str | os.PathLike) -> VariantConfig:
    meta = read_export_metadata(export)
    if "variant" not in meta:
        logger.warning("%s has no %s; assuming %s preprocessing", export, METADATA_FILE, DEFAULT_VARIANT)
    return get_variant(meta.get("variant", DEFAULT_VARIANT))


def export_preprocessing(export: str | os.PathLike) -> Preprocessing:
    return export_variant(export).preprocessing


@dataclasses.dataclass(frozen=True)
class Serving:
    """A loaded SavedModel's ``serving_default``; holds the loaded object so its variables live."""

    owner: object
    function: object

    def __call__(self, video):
        return self.function(video=video)


def load_serving(export: str | os.PathLike, outputs: tuple[str, ...]) -> Serving:
    """The ``serving_default`` function of a SavedModel that returns ``outputs``."""
    import tensorflow as tf

    export = Path(export)
    if not (export / "saved_model.pb").is_file():
        raise ExportLoadError(f"{export} is not a SavedModel folder (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(export))
        serving = loaded.signatures["serving_default"]
    except (OSError, KeyError, ValueError) as e:
        raise ExportLoadError(f"{export}: cannot load serving_default ({e})") from e
    missing = set(outputs) - set(serving.structured_outputs)
    if missing:
        raise ExportLoadError(
            f"{export}: serving_default returns {sorted(serving.structured_outputs)}, "
            f"needs {sorted(missing)}; use the classifier export for predictions and "
            "feature_extractor for features"
        )
    return Serving(loaded, serving)


def load_labels_file(export: str | os.PathLike) -> list[str] | None:
    path = Path(export) / "assets" / "labels.txt"
    if not path.is_file():
        return None
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_batches(serving, views: np.ndarray, batch_size: int, key: str) -> np.ndarray:
    """``serving(video=...)[key]`` over ``views`` in batches, concatenated."""
    import tensorflow as tf

    outs = [
        serving(tf.constant(views[i : i + batch_size]))[key].numpy() for i in range(0, len(views), batch_size)
    ]
    return np.concatenate(outs)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def predict_views(serving, views: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Class probabilities of one video: softmax per view, averaged (``average_clips='prob'``)."""
    return softmax(run_batches(serving, views, batch_size, "logits").astype(np.float64)).mean(axis=0)


def pooled_features(serving, views: np.ndarray, batch_size: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Mean pooled feature over views ``[C]`` and the per-view feature maps ``[V, C, T', H', W']``."""
    import tensorflow as tf

    pooled, maps = [], []
    for i in range(0, len(views), batch_size):
        out = serving(tf.constant(views[i : i + batch_size]))
        pooled.append(out["pooled"].numpy())
        maps.append(out["features"].numpy())
    return np.concatenate(pooled).mean(axis=0), np.concatenate(maps)
