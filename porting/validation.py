"""Checks of a state_dict before it is ported: architecture and layout, values, derived buffers."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np

from tf_videoswin.errors import CheckpointMismatchError
from tf_videoswin.geometry import relative_position_index
from tf_videoswin.variants import FINAL_NORM, VARIANTS, VariantConfig


@dataclasses.dataclass(frozen=True)
class Architecture:
    """What a state_dict says about the model that produced it."""

    embed_dim: int | None
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: tuple[int, int, int] | None
    num_classes: int | None
    layout: str | None = None  # official | mmaction2 (by the final norm's name); None: neither or both

    def describe(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, depths={list(self.depths)}, heads={list(self.num_heads)}, "
            f"window={self.window_size}, num_classes={self.num_classes}, layout={self.layout}"
        )


def infer_layout(state_dict: Mapping[str, np.ndarray]) -> str | None:
    """``official`` (``backbone.norm.*``), ``mmaction2`` (``backbone.norm3.*``); None: neither/both."""
    found = [layout for layout, norm in FINAL_NORM.items() if f"backbone.{norm}.weight" in state_dict]
    return found[0] if len(found) == 1 else None


def _shape(state_dict: Mapping[str, np.ndarray], key: str) -> tuple[int, ...] | None:
    v = state_dict.get(key)
    return tuple(np.shape(v)) if v is not None else None


def infer_architecture(state_dict: Mapping[str, np.ndarray]) -> Architecture:
    """Read embed dim, depths, heads, window, classes and layout off the key names and shapes."""
    proj = _shape(state_dict, "backbone.patch_embed.proj.weight")
    fc = _shape(state_dict, "cls_head.fc_cls.weight")
    blocks: dict[int, set[int]] = {}
    for key in state_dict:
        m = re.match(r"backbone\.layers\.(\d+)\.blocks\.(\d+)\.", key)
        if m:
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    depths = tuple(len(blocks[i]) for i in sorted(blocks))
    heads = []
    for i in sorted(blocks):
        table = _shape(state_dict, f"backbone.layers.{i}.blocks.0.attn.relative_position_bias_table")
        heads.append(table[1] if table and len(table) == 2 else 0)
    window = None
    table = _shape(state_dict, "backbone.layers.0.blocks.0.attn.relative_position_bias_table")
    index = _shape(state_dict, "backbone.layers.0.blocks.0.attn.relative_position_index")
    if table and index:
        for cfg in VARIANTS.values():
            wd, wh, ww = cfg.arch.window_size
            if index[0] == wd * wh * ww and table[0] == (2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1):
                window = cfg.arch.window_size
    return Architecture(
        embed_dim=proj[0] if proj else None,
        depths=depths,
        num_heads=tuple(heads),
        window_size=window,
        num_classes=fc[0] if fc else None,
        layout=infer_layout(state_dict),
    )


def matches(arch: Architecture, cfg: VariantConfig) -> bool:
    want = cfg.arch
    return (
        arch.embed_dim == want.embed_dim
        and arch.depths == want.depths
        and arch.num_heads == want.num_heads
        and arch.window_size == want.window_size
        and arch.num_classes == want.num_classes
        and arch.layout == cfg.layout
    )


def candidate_variants(state_dict: Mapping[str, np.ndarray]) -> list[str]:
    """Registry variants whose architecture and layout fit.

    Checkpoints that differ only in their training (official Swin-B K400 1k and 22k) are
    indistinguishable and both listed; an official and an mmaction2 checkpoint of one size are told
    apart by the name of the final norm.
    """
    arch = infer_architecture(state_dict)
    return [name for name, cfg in VARIANTS.items() if matches(arch, cfg)]


def check_variant(state_dict: Mapping[str, np.ndarray], cfg: VariantConfig) -> None:
    """Raise with the variant the file looks like when it is not ``cfg``'s architecture."""
    arch = infer_architecture(state_dict)
    if matches(arch, cfg):
        return
    looks_like = candidate_variants(state_dict)
    hint = f"it looks like {' or '.join(looks_like)}" if looks_like else "it matches no known variant"
    raise CheckpointMismatchError(
        f"checkpoint is not {cfg.name}: {hint} ({arch.describe()}); "
        f"{cfg.name} needs embed_dim={cfg.arch.embed_dim}, depths={list(cfg.arch.depths)}, "
        f"heads={list(cfg.arch.num_heads)}, window={cfg.arch.window_size}, num_classes={cfg.num_classes}, "
        f"layout={cfg.layout} (final norm backbone.{cfg.final_norm})"
    )


def check_finite(state_dict: Mapping[str, np.ndarray]) -> None:
    """Raise naming every floating tensor that holds NaN or Inf."""
    bad = [
        f"{k} ({int(np.isnan(v).sum())} NaN, {int(np.isinf(v).sum())} Inf)"
        for k, v in state_dict.items()
        if np.issubdtype(np.asarray(v).dtype, np.floating) and not np.isfinite(v).all()
    ]
    if bad:
        raise CheckpointMismatchError("checkpoint holds non-finite weights: " + "; ".join(bad[:10]))


def verify_relative_position_index(state_dict: Mapping[str, np.ndarray], cfg: VariantConfig) -> int:
    """Check every ``relative_position_index`` buffer equals the index of the shared window geometry
    (:func:`tf_videoswin.geometry.relative_position_index`, the one every model path uses).

    Returns the number of buffers checked.
    """
    expected = relative_position_index(cfg.arch.window_size)
    checked = 0
    for key, value in state_dict.items():
        if key.endswith(".relative_position_index"):
            value = np.asarray(value)
            if value.shape != expected.shape or not np.array_equal(value, expected):
                raise CheckpointMismatchError(
                    f"{key} differs from the index recomputed for window {cfg.arch.window_size}: "
                    "the model would not reproduce the checkpoint's attention bias"
                )
            checked += 1
    return checked
