"""Window multi-head self-attention with a relative position bias."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from ...geometry import Size3
from .common import dense, register, value

if TYPE_CHECKING:
    import tensorflow as tf

    from ..functional import AttentionParams


@register
class WindowAttention3D(keras.layers.Layer):
    """W-MSA / SW-MSA over ``(B * nW, N, C)`` windows.

    See :func:`~tf_videoswin.model.functional.window_attention`.

    The qkv projection stays fused: one ``[C, 3C]`` kernel, a plain transpose of the official
    ``qkv.weight``, one matmul instead of three.
    """

    def __init__(self, dim: int, window_size: Size3, num_heads: int, qkv_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        self.qkv_bias = qkv_bias
        wd, wh, ww = self.window_size
        self.relative_position_bias_table = self.add_weight(
            shape=((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="relative_position_bias_table",
        )
        self.qkv = dense(dim, 3 * dim, name="qkv", use_bias=qkv_bias)
        self.proj = dense(dim, dim, name="proj")
        self.built = True

    def params(self) -> AttentionParams:
        """The weights as the TensorFlow path's :class:`~tf_videoswin.model.functional.AttentionParams`."""
        from ..functional import AttentionParams

        return AttentionParams(
            value(self.relative_position_bias_table),
            value(self.qkv.kernel),
            value(self.qkv.bias),
            value(self.proj.kernel),
            value(self.proj.bias),
        )

    def call(self, x: tf.Tensor, index: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        """``x`` ``(B * nW, N, C)``; ``index`` the ``(N, N)`` slice in use; ``mask`` ``(nW, N, N)``
        (TensorFlow path; the ``keras.ops`` path attends inside its block function)."""
        from ..functional import window_attention

        return window_attention(x, index, mask, self.params(), self.num_heads)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "dim": self.dim,
            "window_size": self.window_size,
            "num_heads": self.num_heads,
            "qkv_bias": self.qkv_bias,
        }
