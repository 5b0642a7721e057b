"""The Video Swin backbone."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from ...config import check_attention_precision, check_precision
from ...geometry import Size3
from ..ops_forward import prefixed
from .basic_layer import BasicLayer, OutputHook
from .common import layer_norm, on_tensorflow, register
from .patch_embed import PatchEmbed3D

if TYPE_CHECKING:
    import tensorflow as tf


@register
class SwinTransformer3D(keras.layers.Layer):
    """``(B, 3, T, H, W)`` normalised clip -> ``(B, 8C, T/2, H/32, W/32)`` after the final norm.

    Attribute names mirror the official module tree (``patch_embed``, ``layers[i].blocks[j]``,
    ``norm``) so the converter addresses every weight by name.
    """

    def __init__(
        self,
        patch_size: Size3 = (2, 4, 4),
        in_chans: int = 3,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: Size3 = (8, 7, 7),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.2,
        patch_norm: bool = True,
        precision: str = "float32",
        attention_precision: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.precision = check_precision(precision)
        self.attention_precision = check_attention_precision(attention_precision, precision)
        self.patch_size = tuple(patch_size)
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.depths = tuple(depths)
        self.num_heads = tuple(num_heads)
        self.window_size = tuple(window_size)
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.drop_path_rate = drop_path_rate
        self.patch_norm = patch_norm
        self.patch_embed = PatchEmbed3D(
            patch_size, in_chans, embed_dim, patch_norm, precision=precision, name="patch_embed"
        )
        dpr = np.linspace(0.0, drop_path_rate, sum(depths)).tolist()
        self.layers = [
            BasicLayer(
                dim=embed_dim * 2**i,
                depth=depth,
                num_heads=heads,
                window_size=window_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=dpr[sum(depths[:i]) : sum(depths[: i + 1])],
                downsample=i < len(depths) - 1,
                precision=precision,
                attention_precision=attention_precision,
                name=f"layers.{i}",
            )
            for i, (depth, heads) in enumerate(zip(depths, num_heads, strict=True))
        ]
        self.num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = layer_norm(self.num_features, name="norm")
        if not on_tensorflow():
            # Stochastic depth's random state on the keras.ops path, tracked by Keras as model state so
            # that JAX's stateless training steps advance it. Not a weight: weights files hold the same
            # variables on every backend (the TensorFlow path draws from TensorFlow's generator).
            self.seed_generator = keras.random.SeedGenerator(name="drop_path_seed")
        self.built = True

    def call(
        self,
        x: tf.Tensor,
        training: bool | None = None,
        on_output: OutputHook | None = None,
        channels_last: bool = False,
    ) -> tf.Tensor:
        """``on_output(name, tensor)``, if given, receives the output of every block and stage, named
        by official module path and laid out like the official module's output.

        ``channels_last``: the clip is ``(B, T, H, W, 3)`` and the features ``(B, T', H', W', 8C)``
        instead of the channels-first default.
        """
        if not on_tensorflow():
            from ..ops_forward import forward_features

            features = forward_features(self, x, bool(training), channels_last, on_output)
            return features if channels_last else keras.ops.transpose(features, (0, 4, 1, 2, 3))
        import tensorflow as tf

        if channels_last:  # the tuned path reads channels-first clips (its patch embedding transposes)
            x = tf.transpose(x, [0, 4, 1, 2, 3])
        x = self.patch_embed(x)
        if on_output is not None:
            on_output("patch_embed", tf.transpose(x, [0, 4, 1, 2, 3]))
        for i, layer in enumerate(self.layers):
            block_hook = None if on_output is None else functools.partial(prefixed, on_output, f"layers.{i}.")
            x = layer(x, training=training, on_output=block_hook)
            if on_output is not None:
                on_output(f"layers.{i}", tf.transpose(x, [0, 4, 1, 2, 3]))
        x = self.norm(x)
        if on_output is not None:
            on_output("norm", tf.transpose(x, [0, 4, 1, 2, 3]))
        return x if channels_last else tf.transpose(x, [0, 4, 1, 2, 3])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "in_chans": self.in_chans,
            "embed_dim": self.embed_dim,
            "depths": self.depths,
            "num_heads": self.num_heads,
            "window_size": self.window_size,
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": self.qkv_bias,
            "drop_path_rate": self.drop_path_rate,
            "patch_norm": self.patch_norm,
            "precision": self.precision,
            "attention_precision": self.attention_precision,
        }
