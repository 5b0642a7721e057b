"""Video to patch tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

from ...config import check_precision
from ...geometry import Size3
from .common import layer_norm, on_tensorflow, register

if TYPE_CHECKING:
    import tensorflow as tf


@register
class PatchEmbed3D(keras.layers.Layer):
    """Channels-first ``(B, 3, T, H, W)`` -> channels-last tokens ``(B, T/2, H/4, W/4, C)``.

    The Conv3d of upstream has stride = kernel, so it is a matmul over non-overlapping patches.
    This is also where the public channels-first input is transposed, once, to channels-last.
    ``proj.kernel`` keeps the Keras Conv3D layout ``(kd, kh, kw, in, out)``.
    """

    def __init__(
        self,
        patch_size: Size3 = (2, 4, 4),
        in_chans: int = 3,
        embed_dim: int = 96,
        patch_norm: bool = True,
        precision: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.precision = check_precision(precision)
        self.patch_size = tuple(patch_size)
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.patch_norm = patch_norm
        self.proj = keras.layers.Conv3D(embed_dim, self.patch_size, strides=self.patch_size, name="proj")
        self.proj.build((None, None, None, None, in_chans))
        self.norm = layer_norm(embed_dim, name="norm") if patch_norm else None
        self.built = True

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if not on_tensorflow():
            from ..ops_forward import patch_embed

            return patch_embed(x, self, channels_last=False)
        import tensorflow as tf

        pd, ph, pw = self.patch_size
        shape = tf.shape(x)
        d, h, w = shape[2], shape[3], shape[4]
        x = tf.pad(
            x, [[0, 0], [0, 0], [0, (pd - d % pd) % pd], [0, (ph - h % ph) % ph], [0, (pw - w % pw) % pw]]
        )
        nd, nh, nw = (d + pd - 1) // pd, (h + ph - 1) // ph, (w + pw - 1) // pw
        x = tf.reshape(x, [shape[0], self.in_chans, nd, pd, nh, ph, nw, pw])
        x = tf.transpose(x, [0, 2, 4, 6, 3, 5, 7, 1])  # B, nd, nh, nw, pd, ph, pw, in
        x = tf.reshape(x, [shape[0], nd, nh, nw, pd * ph * pw * self.in_chans])
        compute = tf.as_dtype(self.precision)
        kernel = tf.cast(tf.reshape(self.proj.kernel, [-1, self.embed_dim]), compute)
        x = tf.matmul(tf.cast(x, compute), kernel) + tf.cast(self.proj.bias, compute)
        return self.norm(x, out_dtype=tf.float32) if self.norm is not None else tf.cast(x, tf.float32)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "patch_size": self.patch_size,
            "in_chans": self.in_chans,
            "embed_dim": self.embed_dim,
            "patch_norm": self.patch_norm,
            "precision": self.precision,
        }
