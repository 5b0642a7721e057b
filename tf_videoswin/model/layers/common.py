"""Variable holders for Linear and LayerNorm with PyTorch semantics.

Variable names and layouts are the Keras ones (``kernel [in, out]``, ``bias``, ``gamma``,
``beta``); the arithmetic lives in :mod:`tf_videoswin.model.functional`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import keras

from ...config import LAYER_NORM_EPSILON

if TYPE_CHECKING:
    import tensorflow as tf

T = TypeVar("T")

#: ``@register`` makes a layer loadable from ``.keras`` files without ``custom_objects``.
register = keras.saving.register_keras_serializable(package="tf_videoswin")


@register
class Linear(keras.layers.Layer):
    """``y = x @ kernel + bias`` over the last axis (``nn.Linear`` with a transposed weight)."""

    def __init__(self, in_features: int, units: int, use_bias: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.in_features = in_features
        self.units = units
        self.use_bias = use_bias
        self.kernel = self.add_weight(
            shape=(in_features, units),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            name="kernel",
        )
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias") if use_bias else None
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if not on_tensorflow():
            from ..ops_forward import linear as ops_linear

            return ops_linear(x, self.kernel, self.bias, keras.backend.standardize_dtype(x.dtype))
        from ..functional import linear

        return linear(x, self.kernel, self.bias)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "in_features": self.in_features,
            "units": self.units,
            "use_bias": self.use_bias,
        }


@register
class LayerNorm(keras.layers.Layer):
    """LayerNorm over the last axis, epsilon 1e-5 (``nn.LayerNorm``)."""

    def __init__(self, dim: int, epsilon: float = LAYER_NORM_EPSILON, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dim = dim
        self.epsilon = epsilon
        self.gamma = self.add_weight(shape=(dim,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(dim,), initializer="zeros", name="beta")
        self.built = True

    def call(self, x: tf.Tensor, out_dtype: tf.DType | None = None) -> tf.Tensor:
        """Statistics in float32; the result in ``out_dtype`` (default: ``x``'s dtype)."""
        if not on_tensorflow():
            from ..ops_forward import layer_norm as ops_layer_norm

            dtype = keras.backend.standardize_dtype(out_dtype or x.dtype)
            return ops_layer_norm(x, self.gamma, self.beta, self.epsilon, dtype)
        from ..functional import layer_norm

        return layer_norm(x, self.gamma, self.beta, self.epsilon, out_dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "dim": self.dim, "epsilon": self.epsilon}


def layer_norm(dim: int, name: str) -> LayerNorm:
    return LayerNorm(dim, name=name)


def dense(in_dim: int, units: int, name: str, use_bias: bool = True) -> Linear:
    return Linear(in_dim, units, use_bias=use_bias, name=name)


def untracked_attribute(layer: keras.layers.Layer, name: str, make: Callable[[], T]) -> T:
    """``layer.<name>``, set to ``make()`` on first use without Keras tracking it.

    For caches of traced functions: Keras would track (and try to save) an attribute set the usual
    way, and a cache kept outside the layer whose functions close over the layer would keep the layer
    alive for ever; on the layer, the cycle goes with it.
    """
    if name not in layer.__dict__:
        object.__setattr__(layer, name, make())
    return layer.__dict__[name]


def value(variable: keras.Variable | None) -> tf.Tensor | None:
    """The current value of a variable as a TensorFlow tensor (a read that gradients flow through)."""
    import tensorflow as tf

    return None if variable is None else tf.convert_to_tensor(variable)


def on_tensorflow() -> bool:
    """Whether Keras runs on TensorFlow: the layers then take the tuned TensorFlow path
    (:mod:`~tf_videoswin.model.functional`), else the ``keras.ops`` one
    (:mod:`~tf_videoswin.model.ops_forward`)."""
    return keras.backend.backend() == "tensorflow"
