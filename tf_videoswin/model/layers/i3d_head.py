"""The I3D classification head."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from .common import dense, register

if TYPE_CHECKING:
    import tensorflow as tf


@register
class I3DHead(keras.layers.Layer):
    """Dropout then ``fc_cls`` on pooled ``(B, C)`` features (upstream pools ``(B, C, T, H, W)`` first;
    here the pooling is :meth:`Recognizer3D.pool`, shared with the feature output)."""

    def __init__(self, num_classes: int, in_channels: int, dropout_ratio: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.dropout_ratio = dropout_ratio
        self.dropout = keras.layers.Dropout(dropout_ratio, name="dropout") if dropout_ratio else None
        self.fc_cls = dense(in_channels, num_classes, name="fc_cls")
        self.built = True

    def call(self, pooled: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        if self.dropout is not None:
            pooled = self.dropout(pooled, training=training)
        return self.fc_cls(pooled)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "dropout_ratio": self.dropout_ratio,
        }
