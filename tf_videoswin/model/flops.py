"""Multiply-accumulate count of a Video Swin forward pass, from the architecture and the input size.

Counts what fvcore counts for the official model (the "FLOPs" of the Video Swin paper are MACs):
matmuls, the patch-embedding convolution, and 5 per element for each affine LayerNorm (fvcore's
``norm_flop_counter``); softmax, GELU and additions are left out. The totals round to the FLOPs
column of the official README (88G / 166G / 282G / 321G).
Attention runs on the padded feature map with clipped windows, as the model computes it; the MLP
runs on the unpadded tokens. Pure arithmetic: no TensorFlow or PyTorch needed.
"""

from __future__ import annotations

import math

from ..config import VideoSwinConfig
from ..variants import VariantConfig

#: Operations per element of an affine LayerNorm, as fvcore counts them.
_NORM = 5


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def count_macs(
    cfg: VideoSwinConfig | VariantConfig, frames: int = 32, height: int = 224, width: int = 224
) -> dict[str, int]:
    """MACs per part of the model (``patch_embed``, ``layers.i``, ``norm``, ``cls_head``) and ``total``."""
    if isinstance(cfg, VariantConfig):
        cfg = cfg.arch
    pd, ph, pw = cfg.patch_size
    size = [_ceil_div(frames, pd), _ceil_div(height, ph), _ceil_div(width, pw)]
    dim = cfg.embed_dim
    tokens = math.prod(size)
    macs = {"patch_embed": tokens * (pd * ph * pw * cfg.in_chans) * dim + _NORM * tokens * dim}
    for i, depth in enumerate(cfg.depths):
        window = [min(w, s) for w, s in zip(cfg.window_size, size, strict=True)]
        padded = math.prod(_ceil_div(s, w) * w for s, w in zip(size, window, strict=True))
        tokens, n = math.prod(size), math.prod(window)
        hidden = int(dim * cfg.mlp_ratio)
        attention = padded * dim * 3 * dim + 2 * padded * n * dim + padded * dim * dim  # qkv, qk^T & av, proj
        block = attention + 2 * tokens * dim * hidden + 2 * _NORM * tokens * dim  # + norm1, norm2
        stage = depth * block
        if i < len(cfg.depths) - 1:  # PatchMerging: norm, then 4C -> 2C on the halved (ceil) grid
            size = [size[0], _ceil_div(size[1], 2), _ceil_div(size[2], 2)]
            stage += math.prod(size) * 4 * dim * (2 * dim + _NORM)
            dim *= 2
        macs[f"layers.{i}"] = stage
    macs["norm"] = _NORM * math.prod(size) * dim
    macs["cls_head"] = dim * cfg.num_classes
    macs["total"] = sum(macs.values())
    return macs


def gflop(
    cfg: VideoSwinConfig | VariantConfig, frames: int = 32, height: int = 224, width: int = 224
) -> float:
    """Floating-point operations (2 per MAC) of one clip, in units of 1e9."""
    return 2 * count_macs(cfg, frames, height, width)["total"] / 1e9
