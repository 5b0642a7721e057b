"""Stochastic depth."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..functional import drop_path
from .common import register


@register
class DropPath(keras.layers.Layer):
    """Drop the whole residual branch per sample with probability ``rate`` while training."""

    def __init__(self, rate: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.built = True

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        return drop_path(x, self.rate, bool(training) and self.rate > 0.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}
