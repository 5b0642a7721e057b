"""Linear and LayerNorm with PyTorch semantics and few graph ops.

Keras' own ``Dense``/``LayerNormalization`` emit many shape and cast ops per call; with 24 blocks
traced twice (training and inference) that alone pushes a SavedModel graph past several MB.
Variable names and layouts stay the Keras ones (``kernel [in, out]``, ``bias``, ``gamma``, ``beta``).
"""

from __future__ import annotations

import keras
import tensorflow as tf

#: PyTorch's ``nn.LayerNorm`` default; Keras' own default (1e-3) shifts Swin-T features by ~3e-3.
LAYER_NORM_EPSILON = 1e-5


class Linear(keras.layers.Layer):
    """``y = x @ kernel + bias`` over the last axis of a tensor of any rank."""

    def __init__(self, in_features: int, units: int, use_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.in_features = in_features
        self.units = units
        self.kernel = self.add_weight(
            shape=(in_features, units), initializer=keras.initializers.TruncatedNormal(stddev=0.02), name="kernel"
        )
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias") if use_bias else None
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        flat = x if x.shape.rank == 2 else tf.reshape(x, [-1, self.in_features])
        y = tf.matmul(flat, self.kernel)
        if self.bias is not None:
            y = tf.nn.bias_add(y, self.bias)
        if x.shape.rank == 2:
            return y
        return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [self.units]], axis=0))


class LayerNorm(keras.layers.Layer):
    """LayerNorm over the last axis, biased variance, epsilon 1e-5 (``nn.LayerNorm``)."""

    def __init__(self, dim: int, epsilon: float = LAYER_NORM_EPSILON, **kwargs) -> None:
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.gamma = self.add_weight(shape=(dim,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(dim,), initializer="zeros", name="beta")
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
        return (x - mean) * (tf.math.rsqrt(variance + self.epsilon) * self.gamma) + self.beta


def layer_norm(dim: int, name: str) -> LayerNorm:
    return LayerNorm(dim, name=name)


def dense(in_dim: int, units: int, name: str, use_bias: bool = True) -> Linear:
    return Linear(in_dim, units, use_bias=use_bias, name=name)
