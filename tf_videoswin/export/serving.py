"""Reading an export for inference, and running it on batches of video views.

Shared by the command-line apps and the Ray pipeline. The export's metadata is required: the test
pipeline, the labels and the variant all come from it, never from a guess.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ExportFormatError
from .metadata import ExportMetadata
from .verify import named_read_errors, verify_export


@dataclasses.dataclass(frozen=True)
class Serving:
    """A loaded SavedModel's ``serving_default`` and the export's metadata.

    Holds the loaded object so its variables stay alive. Call it with a ``[B, 3, T, H, W]`` batch.
    """

    path: Path
    metadata: ExportMetadata
    owner: Any
    function: Any

    def __call__(self, video) -> dict:
        return self.function(video=video)

    @property
    def labels(self) -> list[str]:
        return list(self.metadata.labels)


@named_read_errors
def load_serving(export: str | os.PathLike, outputs: tuple[str, ...], verify: bool = True) -> Serving:
    """The ``serving_default`` of a SavedModel folder of an export, checked to return ``outputs``.

    ``verify``: first check the folder's files against the size and sha256 in the metadata
    (:func:`.verify.verify_export`; cached, so a second load hashes nothing).

    Raises:
        ExportFormatError: not a SavedModel folder, no valid metadata, files that differ from their
            record or cannot be read, or the wrong kind of export.
    """
    import tensorflow as tf

    export = Path(export)
    if not (export / "saved_model.pb").is_file():
        raise ExportFormatError(f"{export} is not a SavedModel folder (no saved_model.pb)")
    metadata = ExportMetadata.read(export)
    verify_export(export, verify)
    loaded = tf.saved_model.load(str(export))  # a damaged file: ExportFormatError (named_read_errors)
    try:
        serving = loaded.signatures["serving_default"]
    except KeyError as e:
        raise ExportFormatError(f"{export}: no serving_default signature ({e})") from e
    missing = set(outputs) - set(serving.structured_outputs)
    if missing:
        raise ExportFormatError(
            f"{export}: serving_default returns {sorted(serving.structured_outputs)}, "
            f"needs {sorted(missing)}; use the classifier export for predictions and "
            "feature_extractor for features"
        )
    return Serving(export, metadata, loaded, serving)


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
