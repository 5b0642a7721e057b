"""The public Keras model: Video Swin backbone + I3D head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf

from ..config import VideoSwinConfig, check_attention_precision, check_precision
from ..variants import VariantConfig, get_variant
from .layers import I3DHead, SwinTransformer3D
from .layers.basic_layer import OutputHook
from .layers.common import register, untracked_attribute


@register
class Recognizer3D(keras.Model):
    """Video Swin: channels-first ``(B, 3, T, H, W)`` float32 clip -> logits, features, pooled features.

    The clip is normalised like the official test pipeline (RGB, ``(pixel - mean) / std`` on the
    0-255 scale). B, T, H and W are dynamic. Calling the model returns a dict:

    - ``features`` ``(B, 8C, T', H', W')``: the backbone output after its final norm, channels-first;
    - ``pooled`` ``(B, 8C)``: their mean over T', H', W';
    - ``logits`` ``(B, num_classes)``: the I3D head on ``pooled`` (absent when ``num_classes == 0``).

    The three joins :meth:`forward_features`, :meth:`pool` and :meth:`forward_head` compose to the
    same result; exports and parity checks use them instead of reaching into sub-layers. Attribute
    names (``backbone``, ``cls_head``) mirror the official module tree.

    Args:
        config: the architecture (:class:`~tf_videoswin.config.VideoSwinConfig` or its dict).
        precision: ``"float32"`` (default, the exact path), ``"bfloat16"`` (CPUs with bf16 arithmetic)
            or ``"float16"`` (GPUs): the dtype of every matmul. Variables, the residual stream,
            LayerNorm statistics, attention logits with bias and mask, the softmax, the outputs and the
            head stay float32.
        attention_precision: ``"float32"`` (default) or, for a reduced ``precision``, that same dtype:
            the attention logits, their bias and mask, and the softmax in bf16/f16 too (faster: no
            float32 score matrices; oneDNN still accumulates and normalises in float32, but the logits
            are rounded). Opt-in, because it gives up float32 logits; the drift of both is measured
            (``benchmarks/inference.py``, the export metadata).
    Example:
        >>> model = Recognizer3D(VideoSwinConfig(num_classes=10), name="my_swin")
        >>> out = model(tf.zeros([1, 3, 8, 64, 64]))
        >>> out["logits"].shape, out["pooled"].shape
        (TensorShape([1, 10]), TensorShape([1, 768]))
    """

    def __init__(
        self,
        config: VideoSwinConfig | Mapping[str, Any],
        precision: str = "float32",
        attention_precision: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(config, VideoSwinConfig):
            config = VideoSwinConfig.from_dict(config)
        self.config = config
        self.precision = check_precision(precision)
        self.attention_precision = check_attention_precision(attention_precision, precision)
        self.backbone = SwinTransformer3D(
            patch_size=config.patch_size,
            in_chans=config.in_chans,
            embed_dim=config.embed_dim,
            depths=config.depths,
            num_heads=config.num_heads,
            window_size=config.window_size,
            mlp_ratio=config.mlp_ratio,
            qkv_bias=config.qkv_bias,
            drop_path_rate=config.drop_path_rate,
            patch_norm=config.patch_norm,
            precision=precision,
            attention_precision=attention_precision,
            name="backbone",
        )
        self.cls_head = (
            I3DHead(config.num_classes, config.num_features, config.head_dropout, name="cls_head")
            if config.num_classes
            else None
        )
        self.built = True

    @property
    def precision_config(self) -> dict[str, str]:
        """``precision`` and ``attention_precision``, as keyword arguments of this class."""
        return {"precision": self.precision, "attention_precision": self.attention_precision}

    @property
    def include_top(self) -> bool:
        return self.cls_head is not None

    @property
    def gradient_checkpointing(self) -> bool:
        """Whether the Swin blocks recompute their activations in the backward pass."""
        return any(block.recompute for layer in self.backbone.layers for block in layer.blocks)

    def set_gradient_checkpointing(self, enabled: bool = True) -> None:
        """Run every Swin block under ``tf.recompute_grad`` (training memory for compute).

        The backward pass recomputes each block from its input instead of keeping its activations:
        peak training memory falls to the block inputs plus one block's activations, for about one
        more forward pass of compute. Outputs and gradients are those of the plain model (each block's
        stochastic-depth masks come from one seed, drawn before the block, so the recomputation drops
        the same samples). Off by default; a runtime switch that is neither saved nor exported
        (turn it off before tracing an export).
        """
        for layer in self.backbone.layers:
            for block in layer.blocks:
                block.recompute = bool(enabled)

    def forward_features(
        self, video: tf.Tensor, training: bool | None = None, on_output: OutputHook | None = None
    ) -> tf.Tensor:
        """Backbone output ``(B, 8C, T', H', W')`` after the final norm (``on_output``: see the backbone)."""
        return self.backbone(video, training=training, on_output=on_output)

    @staticmethod
    def pool(features: tf.Tensor) -> tf.Tensor:
        """Mean over T', H', W': ``(B, 8C, T', H', W')`` -> ``(B, 8C)`` (the I3D head's average pool)."""
        return tf.reduce_mean(features, axis=[2, 3, 4])

    def forward_head(self, pooled: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Logits ``(B, num_classes)`` from pooled features (dropout only when training)."""
        if self.cls_head is None:
            raise ValueError(f"{self.name} has no classification head (num_classes=0)")
        return self.cls_head(pooled, training=training)

    def call(self, video: tf.Tensor, training: bool | None = None) -> dict[str, tf.Tensor]:
        """The outputs dict. An eager call runs as one graph traced for any clip size (the graph an
        export holds, optimised the same way: its LayerNorm is one fused kernel), so the model called
        from Python computes what its exports compute, in float32 and in reduced precision;
        inside another graph (``tf.function``, ``fit``) it is part of that graph."""
        if tf.executing_eagerly():
            return self._graph_call(bool(training))(tf.convert_to_tensor(video, tf.float32))
        return self._outputs(video, training)

    def _graph_call(self, training: bool):
        """The ``tf.function`` of :meth:`_outputs` for any clip size, one per training mode."""
        functions = untracked_attribute(self, "_graph_calls", dict)
        if training not in functions:
            spec = tf.TensorSpec([None, self.config.in_chans, None, None, None], tf.float32)
            functions[training] = tf.function(
                lambda video: self._outputs(video, training), input_signature=[spec], autograph=False
            )
        return functions[training]

    def _outputs(self, video: tf.Tensor, training: bool | None) -> dict[str, tf.Tensor]:
        features = self.forward_features(video, training=training)
        pooled = self.pool(features)
        out = {"features": features, "pooled": pooled}
        if self.cls_head is not None:
            out["logits"] = self.forward_head(pooled, training=training)
        return out

    def with_precision(self, precision: str, attention_precision: str = "float32") -> Recognizer3D:
        """This model, or a copy computing in ``precision`` (and ``attention_precision``, see the
        class) with the same variable values."""
        check_attention_precision(attention_precision, check_precision(precision))
        if (precision, attention_precision) == (self.precision, self.attention_precision):
            return self
        fresh = Recognizer3D(
            self.config, precision=precision, attention_precision=attention_precision, name=self.name
        )
        fresh.set_weights(self.get_weights())
        return fresh

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            **self.precision_config,
        }

    @classmethod
    def from_config(cls, config: dict) -> Recognizer3D:
        config = dict(config)
        return cls(config.pop("config"), **config)


def build_model(
    variant: str | VariantConfig | VideoSwinConfig,
    *,
    num_classes: int | None = None,
    precision: str = "float32",
    attention_precision: str = "float32",
) -> Recognizer3D:
    """A Keras Video Swin with the architecture of a registry variant or config (random weights).

    Args:
        variant: a registry name (``"swin_tiny_patch244_window877_kinetics400_1k"``), its
            :class:`~tf_videoswin.variants.VariantConfig`, or a :class:`~tf_videoswin.config.VideoSwinConfig`.
        num_classes: replace the head's size (``0``: no head, features only).
        precision: the matmul dtype, ``"float32"``, ``"bfloat16"`` or ``"float16"``
            (see :class:`Recognizer3D`).
        attention_precision: ``"float32"`` or ``precision`` (see :class:`Recognizer3D`).
    Returns:
        An uninitialised-weights :class:`Recognizer3D`, named after the variant.
    Example:
        >>> model = build_model("swin_tiny_patch244_window877_kinetics400_1k")
        >>> model.load_weights("swin_tiny.weights.h5")  # doctest: +SKIP
    """
    if isinstance(variant, VideoSwinConfig):
        config, name = variant, "video_swin"
    else:
        preset = get_variant(variant)
        config, name = preset.arch, preset.name
    if num_classes is not None:
        config = config.replace(num_classes=num_classes)
    return Recognizer3D(config, precision=precision, attention_precision=attention_precision, name=name)
