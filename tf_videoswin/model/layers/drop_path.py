"""Stochastic depth."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from .common import on_tensorflow, register

if TYPE_CHECKING:
    import tensorflow as tf


@register
class DropPath(keras.layers.Layer):
    """Drop the whole residual branch per sample with probability ``rate`` while training."""

    def __init__(self, rate: float = 0.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.built = True

    def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        training = bool(training) and self.rate > 0.0
        if not on_tensorflow():
            from ..ops_forward import drop_path as ops_drop_path

            return ops_drop_path(x, self.rate, training, None)
        from ..functional import drop_path

        return drop_path(x, self.rate, training)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}
