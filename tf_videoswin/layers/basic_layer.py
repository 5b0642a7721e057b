"""One Video Swin stage."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from ..window_ops import Size3, compute_mask, get_window_size, relative_position_index
from .patch_merging import PatchMerging
from .swin_block import SwinTransformerBlock3D


class BasicLayer(keras.layers.Layer):
    """``depth`` blocks alternating plain and shifted windows, then optional PatchMerging.

    Works channels-last ``(B, D, H, W, C)`` (upstream transposes in and out of each stage; the
    stages here are chained without those transposes). The window, shift, mask and the relative
    index slice are computed once per stage from the runtime shape and shared by its blocks.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: Size3,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: Sequence[float] = (),
        downsample: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.window_size = tuple(window_size)
        self.shift_size = tuple(w // 2 for w in self.window_size)
        rates = list(drop_path) or [0.0] * depth
        self.blocks = [
            SwinTransformerBlock3D(
                dim,
                num_heads,
                self.window_size,
                shifted=i % 2 == 1,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=rates[i],
                name=f"blocks.{i}",
            )
            for i in range(depth)
        ]
        self.downsample = PatchMerging(dim, name="downsample") if downsample else None
        self.built = True

    def call(
        self, x: tf.Tensor, training: bool | None = None, block_outputs: list | None = None
    ) -> tf.Tensor:
        size = tf.shape(x)[1:4]
        window, shift = get_window_size(size, self.window_size, self.shift_size)
        padded = (size + window - 1) // window * window
        n = tf.reduce_prod(window)
        # Upstream quirk: a clipped window of N tokens uses the top-left N x N of the full index.
        index = relative_position_index(self.window_size)[:n, :n]
        mask = compute_mask(padded, window, shift) if len(self.blocks) > 1 else None
        for blk in self.blocks:
            x = blk(x, window, shift, index, mask, training=training)
            if block_outputs is not None:
                block_outputs.append((blk.name, x))
        if self.downsample is not None:
            x = self.downsample(x)
        return x
