"""One (shifted-)window Swin block."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..window_ops import Size3, pad_to_multiple, window_partition, window_reverse
from .common import layer_norm
from .drop_path import DropPath
from .mlp import Mlp
from .window_attention import WindowAttention3D


class SwinTransformerBlock3D(keras.layers.Layer):
    """Pre-norm window attention and MLP with residuals, on channels-last ``(B, D, H, W, C)``.

    ``shifted`` is static (odd blocks of a stage); the shift amount and the window are runtime
    tensors from :class:`BasicLayer`, because a small feature map clips both.
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

    def attention_branch(
        self, x: tf.Tensor, window: tf.Tensor, shift: tf.Tensor, index: tf.Tensor, mask: tf.Tensor | None
    ) -> tf.Tensor:
        size = tf.shape(x)[1:4]
        x = pad_to_multiple(self.norm1(x), window)  # pad after norm1, as upstream
        if self.shifted:
            x = tf.roll(x, shift=-shift, axis=[1, 2, 3])
        padded_shape = tf.shape(x)[:4]
        windows = self.attn(window_partition(x, window), index, mask if self.shifted else None)
        x = window_reverse(windows, window, padded_shape)
        if self.shifted:
            x = tf.roll(x, shift=shift, axis=[1, 2, 3])
        return x[:, : size[0], : size[1], : size[2], :]

    def call(
        self,
        x: tf.Tensor,
        window: tf.Tensor,
        shift: tf.Tensor,
        index: tf.Tensor,
        mask: tf.Tensor | None = None,
        training: bool | None = None,
    ) -> tf.Tensor:
        x = x + self.drop_path(self.attention_branch(x, window, shift, index, mask), training=training)
        return x + self.drop_path(self.mlp(self.norm2(x)), training=training)
