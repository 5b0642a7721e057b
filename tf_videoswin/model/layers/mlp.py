"""Feed-forward block of a Swin block."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from .common import dense, on_tensorflow, register

if TYPE_CHECKING:
    import tensorflow as tf


@register
class Mlp(keras.layers.Layer):
    """``fc1`` -> exact (erf) GELU -> ``fc2``; dropout rate 0 in every official config."""

    def __init__(self, in_features: int, hidden_features: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.in_features = in_features
        self.hidden_features = hidden_features
        self.fc1 = dense(in_features, hidden_features, name="fc1")
        self.fc2 = dense(hidden_features, in_features, name="fc2")
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if on_tensorflow():
            from ..functional import gelu
        else:
            from ..ops_forward import gelu
        return self.fc2(gelu(self.fc1(x)))

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "in_features": self.in_features,
            "hidden_features": self.hidden_features,
        }
