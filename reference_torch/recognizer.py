"""``Recognizer3D``: backbone + I3D head, with the state_dict layout of the official checkpoints."""

from __future__ import annotations

import torch
from torch import nn

from tf_videoswin.config import VideoSwinConfig
from tf_videoswin.variants import FINAL_NORM, OFFICIAL, VariantConfig, get_variant

from .i3d_head import I3DHead
from .swin_transformer import SwinTransformer3D


class Recognizer3D(nn.Module):
    """Keys ``backbone.*`` and ``cls_head.fc_cls.*``, as in the official and mmaction2 ``.pth`` files."""

    def __init__(self, backbone: SwinTransformer3D, cls_head: I3DHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.cls_head = cls_head

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 3, T, H, W)`` normalised clip -> logits, features (NCTHW) and pooled features."""
        features = self.backbone(x)
        return {
            "logits": self.cls_head(features),
            "features": features,
            "pooled": features.mean(dim=(2, 3, 4)),
        }


def build_recognizer(
    variant: str | VariantConfig | VideoSwinConfig, layout: str | None = None
) -> Recognizer3D:
    """An eval-mode reference model with the architecture of a registry variant or config (random weights).

    Args:
        variant: a registry name or entry, or an architecture.
        layout: the state_dict layout, ``official`` (final norm ``backbone.norm``) or ``mmaction2``
            (``backbone.norm3``); default: the variant's own, ``official`` for a bare architecture.
    """
    if isinstance(variant, VideoSwinConfig):
        cfg, default_layout = variant, OFFICIAL
    else:
        entry = get_variant(variant)
        cfg, default_layout = entry.arch, entry.layout
    layout = layout or default_layout
    if layout not in FINAL_NORM:
        raise ValueError(f"layout must be one of {tuple(FINAL_NORM)}, got {layout!r}")
    backbone = SwinTransformer3D(
        patch_size=cfg.patch_size,
        in_chans=cfg.in_chans,
        embed_dim=cfg.embed_dim,
        depths=cfg.depths,
        num_heads=cfg.num_heads,
        window_size=cfg.window_size,
        mlp_ratio=cfg.mlp_ratio,
        qkv_bias=cfg.qkv_bias,
        drop_path_rate=cfg.drop_path_rate,
        patch_norm=cfg.patch_norm,
        final_norm=FINAL_NORM[layout],
    )
    head = I3DHead(cfg.num_classes, cfg.num_features, cfg.head_dropout)
    return Recognizer3D(backbone, head).eval()
