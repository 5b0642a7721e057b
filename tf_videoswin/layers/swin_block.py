"""One (shifted-)window Swin block."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..window_ops import Size3, WindowGeometry, partition, reverse
from .common import layer_norm
from .drop_path import DropPath
from .mlp import Mlp
from .window_attention import WindowAttention3D


class SwinTransformerBlock3D(keras.layers.Layer):
    """Pre-norm window attention and MLP with residuals, on channels-last ``(B, D, H, W, C)``.

    ``shifted`` is static (odd blocks of a stage); window, shift, padding and mask are runtime
    tensors computed once per stage (:func:`~tf_videoswin.window_ops.window_geometry`), because a
    small feature map clips the window and drops the shift.
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
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.shifted = shifted
        self.norm1 = layer_norm(dim, name="norm1")
        self.attn = WindowAttention3D(dim, window_size, num_heads, qkv_bias, name="attn")
        self.drop_path = DropPath(drop_path, name="drop_path")
        self.norm2 = layer_norm(dim, name="norm2")
        self.mlp = Mlp(dim, int(dim * mlp_ratio), name="mlp")
        self.built = True

    def attention_branch(self, x: tf.Tensor, geometry: WindowGeometry) -> tf.Tensor:
        x = tf.pad(self.norm1(x), geometry.paddings)  # pad after norm1, as upstream
        if self.shifted:
            x = tf.roll(x, shift=-geometry.shift, axis=[1, 2, 3])
        windows = self.attn(partition(x, geometry), geometry.index, geometry.mask if self.shifted else None)
        x = reverse(windows, geometry)
        if self.shifted:
            x = tf.roll(x, shift=geometry.shift, axis=[1, 2, 3])
        return tf.slice(x, [0, 0, 0, 0, 0], tf.concat([[-1], geometry.size, [-1]], axis=0))

    def mlp_branch(self, x: tf.Tensor) -> tf.Tensor:
        """``mlp(norm2(x))`` one (batch, time) slice at a time: the 4C-wide hidden activations of a
        slice stay in cache instead of streaming ~77 MB through memory per op (Swin-T stage 1)."""
        shape = tf.shape(x)
        slices = tf.reshape(x, [shape[0] * shape[1], shape[2] * shape[3], self.dim])
        out = tf.map_fn(lambda s: self.mlp(self.norm2(s)), slices, parallel_iterations=2)
        return tf.reshape(out, shape)

    def call(self, x: tf.Tensor, geometry: WindowGeometry, training: bool | None = None) -> tf.Tensor:
        x = x + self.drop_path(self.attention_branch(x, geometry), training=training)
        return x + self.drop_path(self.mlp_branch(x), training=training)
