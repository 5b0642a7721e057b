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


def _stage_inputs(cfg: VideoSwinConfig, frames: int, height: int, width: int) -> list[tuple[list[int], int]]:
    """(D, H, W) token grid and channels each backbone stage runs on: the patch embedding's grid (the input
    padded up to whole patches), then each PatchMerging halves H and W (ceil) and doubles the channels."""
    size = [_ceil_div(n, p) for n, p in zip((frames, height, width), cfg.patch_size, strict=True)]
    inputs = [(size, cfg.embed_dim)]
    for _ in cfg.depths[1:]:
        size, dim = inputs[-1]
        inputs.append(([size[0], _ceil_div(size[1], 2), _ceil_div(size[2], 2)], 2 * dim))
    return inputs


#: The parts of a stage :func:`stage_macs` reports: the window attention's qkv projection and its two
#: score/value products, the attention's output projection, the MLP, the LayerNorms, and PatchMerging.
STAGE_PARTS = ("attention", "proj", "mlp", "norm", "merging")


def stage_macs(
    cfg: VideoSwinConfig | VariantConfig, frames: int = 32, height: int = 224, width: int = 224
) -> list[dict[str, int]]:
    """MACs of each backbone stage by part (:data:`STAGE_PARTS`), all of its blocks together."""
    if isinstance(cfg, VariantConfig):
        cfg = cfg.arch
    inputs = _stage_inputs(cfg, frames, height, width)
    stages = []
    for i, (depth, (size, dim)) in enumerate(zip(cfg.depths, inputs, strict=True)):
        window = [min(w, s) for w, s in zip(cfg.window_size, size, strict=True)]
        padded = math.prod(_ceil_div(s, w) * w for s, w in zip(size, window, strict=True))
        tokens, n = math.prod(size), math.prod(window)
        hidden = int(dim * cfg.mlp_ratio)
        merging = 0
        if i + 1 < len(inputs):  # PatchMerging: norm, then 4C -> 2C on the next stage's grid
            merging = math.prod(inputs[i + 1][0]) * 4 * dim * (2 * dim + _NORM)
        stages.append(
            {
                "attention": depth * (padded * dim * 3 * dim + 2 * padded * n * dim),  # qkv, qk^T and av
                "proj": depth * padded * dim * dim,
                "mlp": depth * 2 * tokens * dim * hidden,
                "norm": depth * 2 * _NORM * tokens * dim,  # norm1, norm2
                "merging": merging,
            }
        )
    return stages


def count_macs(
    cfg: VideoSwinConfig | VariantConfig, frames: int = 32, height: int = 224, width: int = 224
) -> dict[str, int]:
    """MACs per part of the model (``patch_embed``, ``layers.i``, ``norm``, ``cls_head``) and ``total``."""
    if isinstance(cfg, VariantConfig):
        cfg = cfg.arch
    inputs = _stage_inputs(cfg, frames, height, width)
    tokens, dim = math.prod(inputs[0][0]), inputs[0][1]
    macs = {"patch_embed": tokens * math.prod(cfg.patch_size) * cfg.in_chans * dim + _NORM * tokens * dim}
    for i, parts in enumerate(stage_macs(cfg, frames, height, width)):
        macs[f"layers.{i}"] = sum(parts.values())
    size, dim = inputs[-1]  # the final norm and the head see the last stage's grid and channels
    macs["norm"] = _NORM * math.prod(size) * dim
    macs["cls_head"] = dim * cfg.num_classes
    macs["total"] = sum(macs.values())
    return macs


def gflop(
    cfg: VideoSwinConfig | VariantConfig, frames: int = 32, height: int = 224, width: int = 224
) -> float:
    """Floating-point operations (2 per MAC) of one clip, in units of 1e9."""
    return 2 * count_macs(cfg, frames, height, width)["total"] / 1e9
