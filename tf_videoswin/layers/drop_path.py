"""Stochastic depth."""

from __future__ import annotations

import keras
import tensorflow as tf


class DropPath(keras.layers.Layer):
    """Drop the whole residual branch per sample with probability ``rate`` while training."""

    def __init__(self, rate: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.built = True

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if not training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = tf.concat([tf.shape(x)[:1], tf.ones([tf.rank(x) - 1], tf.int32)], axis=0)
        mask = tf.floor(keep + tf.random.uniform(shape, dtype=x.dtype))
        return x / keep * mask

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}
