"""The deployment graph's export signatures: :func:`deploy_function` (a ``tf.function`` of
:func:`tf_videoswin.model.static_forward.forward` at one clip shape, the graph every converter takes),
:func:`weights_used` and :func:`deploy_function_with_weight_inputs` (its weights as inputs, for tf2onnx).

Example:
    >>> fn = deploy_function(model, (1, 3, 32, 224, 224))        # a tf.function with one input signature
    >>> fn(tf.zeros([1, 3, 32, 224, 224]))["logits"].shape
    TensorShape([1, 400])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from ...geometry import ClipShape
from ...model.layers.common import value
from ...model.recognizer import Recognizer3D
from ...model.static_forward import KIND_OUTPUTS, forward

__all__ = [
    "KIND_OUTPUTS",
    "check_clip_shape",
    "deploy_function",
    "deploy_function_with_weight_inputs",
    "weights_used",
]


def check_clip_shape(shape: Sequence[int | None], in_chans: int = 3) -> ClipShape:
    """``shape`` as a :data:`ClipShape`, or ``ValueError``: five sizes, ``in_chans`` channels, all >= 1
    (the batch may be ``None``)."""
    shape = tuple(shape)
    if len(shape) != 5:
        raise ValueError(f"expected a (B, 3, T, H, W) clip shape, got {shape}")
    if shape[1] != in_chans:
        raise ValueError(f"expected {in_chans} channels at axis 1 of (B, 3, T, H, W), got {shape}")
    for d in shape[1:] + (shape[:1] if shape[0] is not None else ()):
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool) or d < 1:
            raise ValueError(f"every size of a deploy clip shape must be a positive integer, got {shape}")
    return tuple(None if d is None else int(d) for d in shape)  # type: ignore[return-value]


def deploy_function(
    model: Recognizer3D,
    shape: Sequence[int | None],
    kind: str = "model",
    dynamic_batch: bool = False,
) -> tf.types.experimental.GenericFunction:
    """A ``tf.function`` of the deployment graph with one input signature ``video`` of ``shape``.

    Converters take its concrete function (``fn.get_concrete_function()``). The function reads the
    model's variables, so it follows later weight changes.

    Args:
        model: the Keras model.
        shape: the static clip shape ``(B, 3, T, H, W)``.
        kind: which outputs (see :func:`forward`).
        dynamic_batch: declare the batch axis ``None`` (the graph serves any batch size).
    Returns:
        ``fn(video) -> {name: tensor}``.
    Raises:
        ValueError: a shape that is not five positive sizes with the model's channel count.
    """
    shape = check_clip_shape(shape, model.config.in_chans)
    spec = tf.TensorSpec([None if dynamic_batch else shape[0], *shape[1:]], tf.float32, name="video")

    @tf.function(input_signature=[spec], autograph=False)
    def serve(video: tf.Tensor) -> dict[str, tf.Tensor]:
        return forward(model, video, kind)

    return serve


def weights_used(
    model: Recognizer3D, shape: Sequence[int | None], kind: str = "model"
) -> list[tuple[str, object]]:
    """``(name, variable)`` of every weight :func:`forward` of ``kind`` reads, in reading order (names as
    the official state_dict keys, with Keras layouts: ``backbone.layers.0.blocks.0.attn.qkv.kernel``)."""
    shape = check_clip_shape(shape, model.config.in_chans)
    used: dict[str, object] = {}

    def record(name: str, variable) -> tf.Tensor:
        used.setdefault(name, variable)
        return value(variable)

    spec = tf.TensorSpec([None, *shape[1:]], tf.float32)
    tf.function(lambda video: forward(model, video, kind, record), autograph=False).get_concrete_function(
        spec
    )
    return list(used.items())


def deploy_function_with_weight_inputs(
    model: Recognizer3D,
    shape: Sequence[int | None],
    kind: str = "model",
    dynamic_batch: bool = False,
) -> tuple[tf.types.experimental.GenericFunction, list[tuple[str, object]]]:
    """:func:`deploy_function` whose weights are inputs after ``video``, not captured variables.

    For converters that copy captured weights many times over while they freeze and optimise a graph
    (tf2onnx needs >10 GB for Swin-B that way): the graph they convert holds no weights, and the weights
    are attached to the converted file afterwards (e.g. as ONNX initializers named after the weights).

    Returns:
        ``fn(video, *weights)`` and the ``(name, variable)`` list of its weight inputs, in order; the
        input specs are named after the weights.
    """
    shape = check_clip_shape(shape, model.config.in_chans)
    named = weights_used(model, shape, kind)
    position = {name: i for i, (name, _) in enumerate(named)}
    video_spec = tf.TensorSpec([None if dynamic_batch else shape[0], *shape[1:]], tf.float32, name="video")
    specs = [tf.TensorSpec(v.shape, v.dtype, name=name) for name, v in named]

    @tf.function(input_signature=[video_spec, *specs], autograph=False)
    def serve(video: tf.Tensor, *weights: tf.Tensor) -> dict[str, tf.Tensor]:
        return forward(model, video, kind, lambda name, _: weights[position[name]])

    return serve, named
