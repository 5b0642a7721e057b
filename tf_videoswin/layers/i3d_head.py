"""The I3D classification head."""

from __future__ import annotations

import keras
import tensorflow as tf

from .common import dense


class I3DHead(keras.layers.Layer):
    """Mean over (T, H, W) of ``(B, C, T, H, W)``, dropout, then ``fc_cls``."""

    def __init__(self, num_classes: int, in_channels: int, dropout_ratio: float = 0.5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dropout = keras.layers.Dropout(dropout_ratio, name="dropout") if dropout_ratio else None
        self.fc_cls = dense(in_channels, num_classes, name="fc_cls")
        self.built = True

    def call(self, pooled: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """Takes the pooled ``(B, C)`` features (pooling is shared with the feature output)."""
        if self.dropout is not None:
            pooled = self.dropout(pooled, training=training)
        return self.fc_cls(pooled)
