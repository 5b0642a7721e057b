"""Window multi-head self-attention with a relative position bias."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..window_ops import Size3
from .common import dense


class WindowAttention3D(keras.layers.Layer):
    """W-MSA / SW-MSA over ``(B * nW, N, C)`` windows.

    The qkv projection stays fused (one ``[C, 3C]`` kernel, a plain transpose of the official
    ``qkv.weight``): one matmul instead of three, and the split into q, k, v follows the official
    ``reshape(B_, N, 3, nH, C // nH)`` so the weight needs no reordering.
    """

    def __init__(self, dim: int, window_size: Size3, num_heads: int, qkv_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        wd, wh, ww = self.window_size
        self.relative_position_bias_table = self.add_weight(
            shape=((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="relative_position_bias_table",
        )
        self.qkv = dense(dim, 3 * dim, name="qkv", use_bias=qkv_bias)
        self.proj = dense(dim, dim, name="proj")
        self.built = True

    def relative_position_bias(self, index: tf.Tensor) -> tf.Tensor:
        """``(nH, N, N)`` bias for an ``(N, N)`` index (already sliced to the window in use)."""
        bias = tf.gather(self.relative_position_bias_table, index)  # N, N, nH
        return tf.transpose(bias, [2, 0, 1])

    def call(self, x: tf.Tensor, index: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        """Args:
        x: ``(B * nW, N, C)`` windows.
        index: ``(N, N)`` relative position index (the official ``[:N, :N]`` slice).
        mask: optional ``(nW, N, N)`` shift mask (0 / -100).
        """
        shape = tf.shape(x)
        b_, n = shape[0], shape[1]
        qkv = tf.reshape(self.qkv(x), [b_, n, 3, self.num_heads, self.head_dim])
        qkv = tf.transpose(qkv, [2, 0, 3, 1, 4])  # 3, B_, nH, N, hd
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = tf.matmul(q * self.scale, k, transpose_b=True)  # B_, nH, N, N
        attn = attn + self.relative_position_bias(index)[None]
        if mask is not None:
            nw = tf.shape(mask)[0]
            attn = tf.reshape(attn, [b_ // nw, nw, self.num_heads, n, n]) + mask[None, :, None]
            attn = tf.reshape(attn, [b_, self.num_heads, n, n])
        attn = tf.nn.softmax(attn, axis=-1)
        x = tf.transpose(tf.matmul(attn, v), [0, 2, 1, 3])  # B_, N, nH, hd
        return self.proj(tf.reshape(x, [b_, n, self.dim]))
