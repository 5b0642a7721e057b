"""One Video Swin stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras

from ...config import check_attention_precision, check_precision
from ...geometry import Size3
from ..ops_forward import OutputHook
from .common import on_tensorflow, register
from .patch_merging import PatchMerging
from .swin_block import SwinTransformerBlock3D

if TYPE_CHECKING:
    import tensorflow as tf


@register
class BasicLayer(keras.layers.Layer):
    """``depth`` blocks alternating plain and shifted windows, then optional PatchMerging.

    Works channels-last ``(B, D, H, W, C)`` (upstream transposes in and out of each stage; the
    stages here are chained without those transposes). Window, shift, padding, mask and the
    relative index slice are computed once per stage from the runtime shape and shared by its blocks.
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
        precision: str = "float32",
        attention_precision: str = "float32",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.precision = check_precision(precision)
        self.attention_precision = check_attention_precision(attention_precision, precision)
        self.dim = dim
        self.depth = depth
        self.num_heads = num_heads
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.window_size = tuple(window_size)
        self.shift_size = tuple(w // 2 for w in self.window_size)
        rates = [float(r) for r in drop_path] or [0.0] * depth
        if len(rates) != depth:
            raise ValueError(f"drop_path has {len(rates)} rates for {depth} blocks")
        self.drop_path_rates = tuple(rates)
        self.blocks = [
            SwinTransformerBlock3D(
                dim,
                num_heads,
                self.window_size,
                shifted=i % 2 == 1,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                drop_path=rates[i],
                precision=precision,
                attention_precision=attention_precision,
                name=f"blocks.{i}",
            )
            for i in range(depth)
        ]
        if on_tensorflow():
            from ..functional import block_function

            shared = block_function()  # one traced graph for all blocks of the stage
            for blk in self.blocks:
                blk._block_fn = shared
        self.downsample = PatchMerging(dim, precision=precision, name="downsample") if downsample else None
        self.built = True

    def call(
        self, x: tf.Tensor, training: bool | None = None, on_output: OutputHook | None = None
    ) -> tf.Tensor:
        """``on_output(name, tensor)``, if given, receives every block's output."""
        if not on_tensorflow():  # the backbone passes its seed generator on this path
            from ..ops_forward import basic_layer

            return basic_layer(x, self, bool(training), None, on_output)
        from ..window_ops import window_geometry

        geometry = window_geometry(x, self.window_size, self.shift_size)
        for blk in self.blocks:
            x = blk(x, geometry, training=training)
            if on_output is not None:
                on_output(blk.name, x)
        if self.downsample is not None:
            x = self.downsample(x)
        return x

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "dim": self.dim,
            "depth": self.depth,
            "num_heads": self.num_heads,
            "window_size": self.window_size,
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": self.qkv_bias,
            "drop_path": self.drop_path_rates,
            "downsample": self.downsample is not None,
            "precision": self.precision,
            "attention_precision": self.attention_precision,
        }
