"""Keras 3 layers of Video Swin, one public class per module, named after the official modules."""

from .basic_layer import BasicLayer
from .drop_path import DropPath
from .i3d_head import I3DHead
from .mlp import Mlp
from .patch_embed import PatchEmbed3D
from .patch_merging import PatchMerging
from .swin_block import SwinTransformerBlock3D
from .swin_transformer import SwinTransformer3D
from .window_attention import WindowAttention3D

__all__ = [
    "BasicLayer",
    "DropPath",
    "I3DHead",
    "Mlp",
    "PatchEmbed3D",
    "PatchMerging",
    "SwinTransformer3D",
    "SwinTransformerBlock3D",
    "WindowAttention3D",
]
