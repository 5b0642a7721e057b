"""Spatial 2x2 patch merging between stages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from ...config import check_precision
from .common import dense, layer_norm, on_tensorflow, register, value

if TYPE_CHECKING:
    import tensorflow as tf


@register
class PatchMerging(keras.layers.Layer):
    """``(B, D, H, W, C)`` -> ``(B, D, ceil(H/2), ceil(W/2), 2C)``.

    Upstream concatenates ``x0 = [0::2, 0::2], x1 = [1::2, 0::2], x2 = [0::2, 1::2], x3 = [1::2, 1::2]``
    (H parity fastest). One reshape + transpose gives the same order: ``(.., W parity, H parity, C)``.
    """

    def __init__(self, dim: int, precision: str = "float32", **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.precision = check_precision(precision)
        self.norm = layer_norm(4 * dim, name="norm")
        self.reduction = dense(4 * dim, 2 * dim, name="reduction", use_bias=False)
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if not on_tensorflow():
            from ..ops_forward import patch_merging

            return patch_merging(x, self)
        import tensorflow as tf

        from ..functional import layer_norm as layer_norm_fn
        from ..functional import linear

        shape = tf.shape(x)
        h, w = shape[2], shape[3]
        x = tf.pad(x, [[0, 0], [0, 0], [0, h % 2], [0, w % 2], [0, 0]])
        h2, w2 = (h + 1) // 2, (w + 1) // 2
        x = tf.reshape(x, [shape[0], shape[1], h2, 2, w2, 2, self.dim])
        x = tf.transpose(x, [0, 1, 2, 4, 5, 3, 6])  # B, D, H/2, W/2, w parity, h parity, C
        x = tf.reshape(x, [shape[0], shape[1], h2, w2, 4 * self.dim])
        # Functional calls: a Keras layer call would cast a reduced-precision input back to float32.
        normed = layer_norm_fn(
            x, self.norm.gamma, self.norm.beta, self.norm.epsilon, tf.as_dtype(self.precision)
        )
        return tf.cast(linear(normed, value(self.reduction.kernel)), x.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim, "precision": self.precision}
