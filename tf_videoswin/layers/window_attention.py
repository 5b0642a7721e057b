"""Window multi-head self-attention with a relative position bias."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..window_ops import Size3
from .common import dense


class WindowAttention3D(keras.layers.Layer):
    """W-MSA / SW-MSA over ``(B * nW, N, C)`` windows.

    The qkv projection stays fused (one ``[C, 3C]`` kernel, a plain transpose of the official
    ``qkv.weight``), and the split into q, k, v follows the official ``reshape(B_, N, 3, nH, C // nH)``,
    so the weight needs no reordering.

    Speed: the ``(nH, N, N)`` score matrix of one window is ~1.8 MB for Swin-T stage 1, but all
    windows together are ~240 MB, and every pass over them (bias, mask, softmax) is bound by memory
    bandwidth. The windows are therefore processed one at a time in a ``tf.map_fn`` loop (qkv
    projection, scores, softmax and values), so each window's scores stay in cache. The arithmetic
    is the official one, in the official order.
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

    def _attend(self, x: tf.Tensor, bias: tf.Tensor, mask: tf.Tensor | None) -> tf.Tensor:
        """One window ``(N, C)`` -> ``(N, C)`` before ``proj``; ``mask`` is ``(N, N)`` or None."""
        qkv = tf.reshape(self.qkv(x), [-1, 3, self.num_heads, self.head_dim])
        q, k, v = tf.unstack(tf.transpose(qkv, [1, 2, 0, 3]))  # each nH, N, hd
        attn = tf.matmul(q * self.scale, k, transpose_b=True) + bias
        if mask is not None:
            attn = attn + mask
        out = tf.matmul(tf.nn.softmax(attn, axis=-1), v)  # nH, N, hd
        return tf.reshape(tf.transpose(out, [1, 0, 2]), [-1, self.dim])

    def call(self, x: tf.Tensor, index: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        """Args:
        x: ``(B * nW, N, C)`` windows, ordered batch-major.
        index: ``(N, N)`` relative position index (the official ``[:N, :N]`` slice).
        mask: optional ``(nW, N, N)`` shift mask (0 / -100).
        """
        bias = self.relative_position_bias(index)
        if mask is None:
            out = tf.map_fn(
                lambda w: self._attend(w, bias, None), x, parallel_iterations=2, fn_output_signature=x.dtype
            )
        else:
            window_ids = tf.range(tf.shape(x)[0]) % tf.shape(mask)[0]
            out = tf.map_fn(
                lambda e: self._attend(e[0], bias, tf.gather(mask, e[1])),
                (x, window_ids),
                parallel_iterations=2,
                fn_output_signature=x.dtype,
            )
        return self.proj(out)
