"""The public Keras model: Video Swin backbone + I3D head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import keras
from keras import ops

from ..config import VideoSwinConfig, check_attention_precision, check_precision
from ..errors import CheckpointMismatchError, ClipShapeError
from ..variants import VariantConfig, get_variant
from .layers import I3DHead, SwinTransformer3D
from .layers.basic_layer import OutputHook
from .layers.common import on_tensorflow, register, untracked_attribute
from .ops_forward import output_size
from .xla_options import jax_compiler_options

if TYPE_CHECKING:
    import tensorflow as tf

#: Where the channels of a clip (and of the features) are: the official ``(B, 3, T, H, W)`` layout
#: (the default) or Keras' ``(B, T, H, W, 3)``.
DATA_FORMATS = ("channels_first", "channels_last")


def check_data_format(data_format: str) -> str:
    """``data_format`` if it is one of :data:`DATA_FORMATS`, else ``ValueError``."""
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format must be one of {DATA_FORMATS}, got {data_format!r}")
    return data_format


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
        data_format: ``"channels_first"`` (default): clips ``(B, 3, T, H, W)`` and features
            ``(B, 8C, T', H', W')``, the official layout; ``"channels_last"``: ``(B, T, H, W, 3)`` and
            ``(B, T', H', W', 8C)``, the Keras convention. Same weights, same numbers.

    Backends: on TensorFlow the model runs the tuned graph of :mod:`tf_videoswin.model.functional`;
    on JAX and PyTorch (``KERAS_BACKEND=jax|torch``) the ``keras.ops`` forward of
    :mod:`tf_videoswin.model.ops_forward`, with the same variables in the same order, so a weights file
    written on one backend loads on the others. Calling the model returns that backend's tensors; on
    JAX an inference call is compiled once per clip shape.

    Training the Keras way: with a loss that is not keyed by output name (``compile(loss=...)``),
    ``fit`` trains the ``logits``; a ``{"logits": loss}`` dict works as well.
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
        data_format: str = "channels_first",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(config, VideoSwinConfig):
            config = VideoSwinConfig.from_dict(config)
        self.config = config
        self.data_format = check_data_format(data_format)
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
    def channels_last(self) -> bool:
        return self.data_format == "channels_last"

    def check_clip(self, shape) -> None:
        """Raise :class:`~tf_videoswin.errors.ClipShapeError` unless ``shape`` is a 5-D clip with
        ``in_chans`` channels where :attr:`data_format` puts them (a shape of unknown rank, inside a
        TensorFlow graph, is left to the graph)."""
        if getattr(shape, "rank", 0) is None:
            return
        shape = tuple(shape)
        layout = "(B, T, H, W, 3)" if self.channels_last else "(B, 3, T, H, W)"
        axis = 4 if self.channels_last else 1
        if len(shape) != 5 or shape[axis] not in (None, self.config.in_chans):
            hint = ""
            other = 1 if self.channels_last else 4
            if len(shape) == 5 and shape[other] == self.config.in_chans:
                hint = " (it looks like the other layout: build the model with data_format=" + (
                    "'channels_first')" if self.channels_last else "'channels_last')"
                )
            raise ClipShapeError(
                f"{self.name} takes {self.data_format} clips {layout} with {self.config.in_chans} channels, "
                f"got shape {tuple(shape)}{hint}"
            )

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
        if enabled and not on_tensorflow():
            raise NotImplementedError(
                "gradient checkpointing is implemented on the TensorFlow backend only "
                f"(this process runs Keras on {keras.backend.backend()!r})"
            )
        for layer in self.backbone.layers:
            for block in layer.blocks:
                block.recompute = bool(enabled)

    def forward_features(
        self, video: tf.Tensor, training: bool | None = None, on_output: OutputHook | None = None
    ) -> tf.Tensor:
        """Backbone output after the final norm, ``(B, 8C, T', H', W')`` (channels-last:
        ``(B, T', H', W', 8C)``); ``on_output``: see the backbone."""
        self.check_clip(video.shape)
        return self.backbone(video, training=training, on_output=on_output, channels_last=self.channels_last)

    def pool(self, features: tf.Tensor) -> tf.Tensor:
        """Mean over T', H', W': features -> ``(B, 8C)`` (the I3D head's average pool)."""
        return ops.mean(features, axis=(1, 2, 3) if self.channels_last else (2, 3, 4))

    def forward_head(self, pooled: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Logits ``(B, num_classes)`` from pooled features (dropout only when training)."""
        if self.cls_head is None:
            raise ValueError(f"{self.name} has no classification head (num_classes=0)")
        return self.cls_head(pooled, training=training)

    def call(self, video: tf.Tensor, training: bool | None = None) -> dict[str, tf.Tensor]:
        """The outputs dict.

        TensorFlow: an eager call runs as one graph traced for any clip size (the graph an export
        holds, optimised the same way: its LayerNorm is one fused kernel), so the model called from
        Python computes what its exports compute, in float32 and in reduced precision; inside another
        graph (``tf.function``, ``fit``) it is part of that graph. JAX: an eager inference call runs a
        ``jax.jit`` of the forward (compiled once per clip shape, on the CPU without YNN fusions: see
        :mod:`~tf_videoswin.model.xla_options`); inside a trace (``fit``, a user's
        ``jit``) it is part of that trace. PyTorch: eager, as PyTorch runs.
        """
        self.check_clip(video.shape)
        if on_tensorflow():
            import tensorflow as tf

            if tf.executing_eagerly():
                return self._graph_call(bool(training))(tf.convert_to_tensor(video, tf.float32))
        elif keras.backend.backend() == "jax" and not training:
            jitted = self._jax_call(video)
            if jitted is not None:
                return jitted
        return self._outputs(video, training)

    def _graph_call(self, training: bool):
        """The ``tf.function`` of :meth:`_outputs` for any clip size, one per training mode."""
        import tensorflow as tf

        functions = untracked_attribute(self, "_graph_calls", dict)
        if training not in functions:
            shape = [None, None, None, None, self.config.in_chans] if self.channels_last else None
            spec = tf.TensorSpec(shape or [None, self.config.in_chans, None, None, None], tf.float32)
            functions[training] = tf.function(
                lambda video: self._outputs(video, training), input_signature=[spec], autograph=False
            )
        return functions[training]

    def _jax_call(self, video) -> dict | None:
        """The inference outputs from a ``jax.jit`` of the forward with the variables as arguments, or
        None inside a JAX trace (the caller's trace then holds the forward)."""
        import jax

        if isinstance(video, jax.core.Tracer) or any(
            isinstance(v.value, jax.core.Tracer) for v in self.variables
        ):
            return None
        function = untracked_attribute(
            self,
            "_jax_forward",
            lambda: jax.jit(self._stateless_outputs, compiler_options=jax_compiler_options()),
        )
        return function([v.value for v in self.variables], video)

    def _stateless_outputs(self, values: list, video) -> dict:
        """:meth:`_outputs` in inference mode with ``values`` in place of the variables."""
        with keras.StatelessScope(state_mapping=list(zip(self.variables, values, strict=True))):
            return self._outputs(video, False)

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
            self.config,
            precision=precision,
            attention_precision=attention_precision,
            data_format=self.data_format,
            name=self.name,
        )
        fresh.set_weights(self.get_weights())
        return fresh

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "config": self.config.to_dict(),
            **self.precision_config,
            "data_format": self.data_format,
        }

    def load_weights(self, filepath, *args, **kwargs) -> None:
        """Keras' ``load_weights``; a file of another architecture (another variant, another head
        size) raises :class:`~tf_videoswin.errors.CheckpointMismatchError` naming the file and this
        model. Files written on any backend load on any other."""
        try:
            super().load_weights(filepath, *args, **kwargs)
        except ValueError as e:
            raise CheckpointMismatchError(
                f"{filepath}: these weights do not fit {self.name} (embed_dim {self.config.embed_dim}, "
                f"depths {self.config.depths}, window {self.config.window_size}, "
                f"{self.config.num_classes} classes): {e}"
            ) from e

    def compute_output_spec(self, video, training=None) -> dict:
        """Output shapes without running the model (symbolic calls: ``keras.Input``, summaries)."""
        self.check_clip(video.shape)
        batch = video.shape[0]
        size = video.shape[1:4] if self.channels_last else video.shape[2:5]
        t, h, w = output_size(tuple(size), self.config.patch_size, len(self.config.depths))
        channels = self.config.num_features
        features = (batch, t, h, w, channels) if self.channels_last else (batch, channels, t, h, w)
        out = {
            "features": keras.KerasTensor(features, "float32"),
            "pooled": keras.KerasTensor((batch, channels), "float32"),
        }
        if self.cls_head is not None:
            out["logits"] = keras.KerasTensor((batch, self.config.num_classes), "float32")
        return out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras' loss, on the ``logits`` when ``compile`` got a loss not keyed by output name."""
        return super().compute_loss(
            x, y, self._compiled_target(y_pred, self.loss), sample_weight, training=training
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Keras' metrics, on the ``logits`` when ``compile`` got metrics not keyed by output name."""
        metrics = getattr(self._compile_metrics, "_user_metrics", None)
        return super().compute_metrics(x, y, self._compiled_target(y_pred, metrics), sample_weight)

    def _compiled_target(self, y_pred, compiled):
        """``y_pred["logits"]`` where ``compiled`` (a loss or metrics) names no output, else ``y_pred``."""
        if not isinstance(y_pred, Mapping) or compiled is None or isinstance(compiled, Mapping):
            return y_pred
        if "logits" not in y_pred:
            raise ValueError(
                f"{self.name} has no classification head to train (num_classes=0): build it with "
                "num_classes=N, or key the loss by output name"
            )
        return y_pred["logits"]

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
    data_format: str = "channels_first",
) -> Recognizer3D:
    """A Keras Video Swin with the architecture of a registry variant or config (random weights).

    Args:
        variant: a registry name (``"swin_tiny_patch244_window877_kinetics400_1k"``), its
            :class:`~tf_videoswin.variants.VariantConfig`, or a :class:`~tf_videoswin.config.VideoSwinConfig`.
        num_classes: replace the head's size (``0``: no head, features only).
        precision: the matmul dtype, ``"float32"``, ``"bfloat16"`` or ``"float16"``
            (see :class:`Recognizer3D`).
        attention_precision: ``"float32"`` or ``precision`` (see :class:`Recognizer3D`).
        data_format: ``"channels_first"`` (``(B, 3, T, H, W)`` clips, the default) or ``"channels_last"``
            (``(B, T, H, W, 3)``); see :class:`Recognizer3D`.
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
    return Recognizer3D(
        config,
        precision=precision,
        attention_precision=attention_precision,
        data_format=data_format,
        name=name,
    )
