"""One (shifted-)window Swin block."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from ...config import check_attention_precision, check_precision
from ...geometry import Size3
from .common import layer_norm, register, value
from .drop_path import DropPath
from .mlp import Mlp
from .window_attention import WindowAttention3D

if TYPE_CHECKING:
    import tensorflow as tf

    from ..functional import BlockParams
    from ..window_ops import WindowGeometry


@register
class SwinTransformerBlock3D(keras.layers.Layer):
    """Pre-norm window attention and MLP with residuals, on channels-last ``(B, D, H, W, C)``.

    ``shifted`` is static (odd blocks of a stage); window, shift, padding and mask are runtime
    tensors computed once per stage (:func:`~tf_videoswin.model.window_ops.window_geometry`), because a
    small feature map clips the window and drops the shift. The computation is the shared
    :func:`~tf_videoswin.model.functional.swin_block`, called with this block's weights; matmuls run
    in ``precision``, the attention logits and softmax in ``attention_precision`` (see
    :mod:`tf_videoswin.model.functional`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: Size3,
        shifted: bool,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        precision: str = "float32",
        attention_precision: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.precision = check_precision(precision)
        self.attention_precision = check_attention_precision(attention_precision, precision)
        # The TensorFlow path's block function, set by BasicLayer: one shared by the blocks of a stage.
        self._block_fn = None
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = tuple(window_size)
        self.shifted = shifted
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.norm1 = layer_norm(dim, name="norm1")
        self.attn = WindowAttention3D(dim, window_size, num_heads, qkv_bias, name="attn")
        self.drop_path = DropPath(drop_path, name="drop_path")
        self.norm2 = layer_norm(dim, name="norm2")
        self.mlp = Mlp(dim, int(dim * mlp_ratio), name="mlp")
        self.built = True

    def params(self) -> BlockParams:
        """The weights as the TensorFlow path's :class:`~tf_videoswin.model.functional.BlockParams`."""
        from ..functional import BlockParams

        return BlockParams(
            value(self.norm1.gamma),
            value(self.norm1.beta),
            self.attn.params(),
            value(self.norm2.gamma),
            value(self.norm2.beta),
            value(self.mlp.fc1.kernel),
            value(self.mlp.fc1.bias),
            value(self.mlp.fc2.kernel),
            value(self.mlp.fc2.bias),
        )

    #: Gradient checkpointing (opt-in; a runtime switch, not part of the config): recompute this
    #: block's activations in the backward pass instead of keeping them. Set through
    #: :meth:`~tf_videoswin.model.recognizer.Recognizer3D.set_gradient_checkpointing`.
    recompute: bool = False

    def call(self, x: tf.Tensor, geometry: WindowGeometry, training: bool | None = None) -> tf.Tensor:
        """TensorFlow path: ``geometry`` is the stage's runtime :class:`WindowGeometry` (the ``keras.ops``
        path runs blocks from :func:`tf_videoswin.model.ops_forward.basic_layer`)."""
        import tensorflow as tf

        if self._block_fn is None:
            from ..functional import block_function

            self._block_fn = block_function()
        training = bool(training) and self.drop_path.rate > 0.0
        rate = tf.constant(self.drop_path.rate, x.dtype)
        if self.recompute:
            return self._recomputed(x, geometry, rate, training)
        return self._block_fn(
            x,
            geometry,
            self.params(),
            rate,
            self.num_heads,
            self.shifted,
            training,
            precision=self.precision,
            attention_precision=self.attention_precision,
        )

    def _recomputed(
        self, x: tf.Tensor, geometry: WindowGeometry, rate: tf.Tensor, training: bool
    ) -> tf.Tensor:
        """:func:`swin_block` under ``tf.recompute_grad``: only the block's input and weights are kept
        for the backward pass, which runs the block again.

        The weights enter as arguments (read once, outside), so their gradients flow through the
        recomputation without variable capture. The stochastic-depth masks come from one seed drawn
        here, outside, so the recomputed forward drops the same samples as the original one.
        """
        import tensorflow as tf

        params = self.params()
        flat = tf.nest.flatten(params)
        present = [i for i, t in enumerate(flat) if t is not None]  # qkv_bias may be None
        seed = tf.random.uniform([2], maxval=tf.int32.max, dtype=tf.int32) if training else None

        def block(x: tf.Tensor, *weights: tf.Tensor) -> tf.Tensor:
            values = list(flat)
            for i, w in zip(present, weights, strict=True):
                values[i] = w
            p = tf.nest.pack_sequence_as(params, values)
            return self._block_fn(
                x,
                geometry,
                p,
                rate,
                self.num_heads,
                self.shifted,
                training,
                seed,
                precision=self.precision,
                attention_precision=self.attention_precision,
            )

        return tf.recompute_grad(block)(x, *(flat[i] for i in present))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "dim": self.dim,
            "num_heads": self.num_heads,
            "window_size": self.window_size,
            "shifted": self.shifted,
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": self.qkv_bias,
            "drop_path": self.drop_path.rate,
            "precision": self.precision,
            "attention_precision": self.attention_precision,
        }
