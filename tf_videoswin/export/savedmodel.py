"""TF-Hub reusable SavedModels of a Video Swin model.

Each export is a ``tf.train.Checkpoint`` object carrying what ``hub.KerasLayer`` and
``tf.saved_model.load`` look for:

- ``__call__(video, training=False)``, traced for ``training`` True and False;
- ``variables``, ``trainable_variables``, ``regularization_losses`` (empty);
- the ``serving_default`` signature (input ``video`` ``[None, 3, None, None, None]`` float32).

``classifier``: ``__call__`` returns logits ``[B, num_classes]``; signature ``{'logits'}``.
``feature_extractor``: ``__call__`` returns pooled features ``[B, 8C]``; signature
``{'features': [B, 8C, T', H', W'], 'pooled': [B, 8C]}``. The feature extractor holds backbone
variables only. (A plain Keras 3 ``model.export()`` cannot be loaded by
``hub.KerasLayer(trainable=True)``; this object can.)
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import tensorflow as tf

from ..model.layers.common import untracked_attribute
from ..model.recognizer import Recognizer3D
from .metadata import EXPORT_KINDS

logger = logging.getLogger(__name__)

# Unnamed, so that the signature's ``video`` placeholder hits the same trace as ``__call__``.
VIDEO_SPEC = tf.TensorSpec([None, 3, None, None, None], tf.float32)


def _tf_variables(layer) -> tuple[list[tf.Variable], list[tf.Variable]]:
    """The ``tf.Variable``s behind a Keras layer's variables (all, trainable)."""
    return [v.value for v in layer.variables], [v.value for v in layer.trainable_variables]


class _ModelFunctions:
    """The ``tf.function``s of one model, shared by both exports: the backbone is traced once."""

    def __init__(self, model: Recognizer3D) -> None:
        @tf.function(autograph=False)
        def backbone(video: tf.Tensor, training: bool = False) -> tf.Tensor:
            return model.forward_features(video, training=training)

        @tf.function(autograph=False)
        def pooled(video: tf.Tensor, training: bool = False) -> tf.Tensor:
            return model.pool(backbone(video, training=training))

        @tf.function(autograph=False)
        def logits(video: tf.Tensor, training: bool = False) -> tf.Tensor:
            return model.forward_head(pooled(video, training=training), training=training)

        def serve_logits(video: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"logits": logits(video, training=False)}

        def serve_features(video: tf.Tensor) -> dict[str, tf.Tensor]:
            features = backbone(video, training=False)
            return {"features": features, "pooled": model.pool(features)}

        self.call = {"classifier": logits, "feature_extractor": pooled}
        self.serve = {"classifier": serve_logits, "feature_extractor": serve_features}
        # The classifier carries every variable of the model; the feature extractor the backbone's.
        self.owners = {"classifier": model, "feature_extractor": model.backbone}


def _model_functions(model: Recognizer3D) -> _ModelFunctions:
    """The model's export functions, traced once per model and kept on it."""
    return untracked_attribute(model, "_export_functions", lambda: _ModelFunctions(model))


def build_export_object(
    model: Recognizer3D, kind: str, labels_path: str | None = None
) -> tuple[tf.train.Checkpoint, tf.types.experimental.ConcreteFunction]:
    """The trackable object to save for ``kind`` and its ``serving_default`` concrete function."""
    if kind not in EXPORT_KINDS:
        raise ValueError(f"unknown export kind {kind!r}; expected one of {EXPORT_KINDS}")
    if kind == "classifier" and not model.include_top:
        raise ValueError(f"{model.name} has no classification head: export feature_extractor only")
    functions = _model_functions(model)
    call = functions.call[kind]
    for training in (False, True):
        call.get_concrete_function(VIDEO_SPEC, training=training)
    # The signature calls the traced inference function, so the SavedModel holds each graph once.
    serving = tf.function(
        functions.serve[kind], input_signature=[VIDEO_SPEC], autograph=False
    ).get_concrete_function()

    obj = tf.train.Checkpoint()
    obj.variables, obj.trainable_variables = _tf_variables(functions.owners[kind])
    obj.regularization_losses = []
    obj.__call__ = call
    if labels_path is not None:
        obj.labels = tf.saved_model.Asset(labels_path)
    return obj, serving


def save_export(
    model: Recognizer3D, kind: str, path: str | os.PathLike, labels: list[str] | None = None
) -> None:
    """Write one SavedModel to ``path`` (which must not exist yet)."""
    path = Path(path)
    labels_path = None
    with tempfile.TemporaryDirectory() as tmp:
        if labels is not None:
            labels_path = os.path.join(tmp, "labels.txt")
            Path(labels_path).write_text("\n".join(labels) + "\n", encoding="utf-8")
        obj, serving = build_export_object(model, kind, labels_path)
        tf.saved_model.save(obj, str(path), signatures={"serving_default": serving})
    logger.info("wrote %s export to %s", kind, path)
