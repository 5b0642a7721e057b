"""Small building blocks shared by the Video Swin layers."""

from __future__ import annotations

import keras

#: PyTorch's ``nn.LayerNorm`` default; Keras' own default (1e-3) shifts features by ~3e-3.
LAYER_NORM_EPSILON = 1e-5


def layer_norm(dim: int, name: str) -> keras.layers.LayerNormalization:
    """A built LayerNorm over the last axis with PyTorch's epsilon."""
    norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name=name)
    norm.build((None, dim))
    return norm


def dense(in_dim: int, units: int, name: str, use_bias: bool = True) -> keras.layers.Dense:
    """A built Dense layer (kernel ``[in, out]``, the transpose of ``nn.Linear.weight``)."""
    layer = keras.layers.Dense(units, use_bias=use_bias, name=name)
    layer.build((None, in_dim))
    return layer
