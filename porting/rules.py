"""The declarative mapping from upstream state_dict keys to Keras variables.

Each rule is ``(regex on the PyTorch key, Keras variable name template, transform)``. Keras variable
names are the attribute paths of :func:`porting.rule_engine.named_variables`, which mirror the official
module paths (``backbone.layers.0.blocks.1.attn.qkv.kernel``). The first matching rule wins; a key
that matches no rule and no ignore entry is an error.

One table serves both checkpoint layouts: the official one and mmaction2 1.x's, whose keys are the same
except the backbone's final LayerNorm, ``backbone.norm3`` instead of ``backbone.norm``. The final-norm
rules map either name onto the one Keras ``backbone.norm``; a checkpoint holding both is refused by the
engine (one variable assigned twice), and which layout a file has is checked before porting
(:func:`porting.validation.check_variant`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import numpy as np

from .transforms import conv3d_kernel, identity, linear_kernel

_BLOCK = r"backbone\.layers\.\d+\.blocks\.\d+"
_STAGE = r"backbone\.layers\.\d+"


@dataclasses.dataclass(frozen=True)
class Rule:
    pattern: str
    target: str
    transform: Callable[[np.ndarray], np.ndarray]

    def match(self, key: str) -> str | None:
        m = re.fullmatch(self.pattern, key)
        return m.expand(self.target) if m else None


@dataclasses.dataclass(frozen=True)
class Ignore:
    pattern: str
    reason: str

    def match(self, key: str) -> bool:
        return re.fullmatch(self.pattern, key) is not None


RULES: tuple[Rule, ...] = (
    # Patch embedding: Conv3d (stride = kernel) and its LayerNorm.
    Rule(r"backbone\.patch_embed\.proj\.weight", "backbone.patch_embed.proj.kernel", conv3d_kernel),
    Rule(r"backbone\.patch_embed\.proj\.bias", "backbone.patch_embed.proj.bias", identity),
    # Swin blocks: qkv stays fused (see WindowAttention3D), Linear weights transposed.
    Rule(
        rf"({_BLOCK})\.attn\.relative_position_bias_table", r"\1.attn.relative_position_bias_table", identity
    ),
    Rule(rf"({_BLOCK})\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.weight", r"\1.\2.kernel", linear_kernel),
    Rule(rf"({_BLOCK})\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.bias", r"\1.\2.bias", identity),
    # PatchMerging: Linear without bias.
    Rule(rf"({_STAGE})\.downsample\.reduction\.weight", r"\1.downsample.reduction.kernel", linear_kernel),
    # The backbone's final LayerNorm: ``norm`` (official) or ``norm3`` (mmaction2, out_indices=(3,)).
    Rule(r"backbone\.(?:norm|norm3)\.weight", "backbone.norm.gamma", identity),
    Rule(r"backbone\.(?:norm|norm3)\.bias", "backbone.norm.beta", identity),
    # Every other LayerNorm: weight -> gamma, bias -> beta.
    Rule(
        r"(backbone\.(?:patch_embed|layers\.\d+\.(?:blocks\.\d+|downsample)))\.(norm|norm1|norm2)\.weight",
        r"\1.\2.gamma",
        identity,
    ),
    Rule(
        r"(backbone\.(?:patch_embed|layers\.\d+\.(?:blocks\.\d+|downsample)))\.(norm|norm1|norm2)\.bias",
        r"\1.\2.beta",
        identity,
    ),
    # I3D head.
    Rule(r"cls_head\.fc_cls\.weight", "cls_head.fc_cls.kernel", linear_kernel),
    Rule(r"cls_head\.fc_cls\.bias", "cls_head.fc_cls.bias", identity),
)

IGNORED: tuple[Ignore, ...] = (
    Ignore(
        rf"{_BLOCK}\.attn\.relative_position_index",
        "derived buffer: recomputed by the model; checked equal by verify_relative_position_index",
    ),
)
