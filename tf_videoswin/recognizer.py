"""The public Keras model: Video Swin backbone + I3D head."""

from __future__ import annotations

import keras
import tensorflow as tf

from .layers import I3DHead, SwinTransformer3D
from .variants import VariantConfig, get_variant


class Recognizer3D(keras.Model):
    """Channels-first ``(B, 3, T, H, W)`` float32 clip, normalised like the official test pipeline.

    Returns a dict: ``logits (B, num_classes)``, ``features (B, 8C, T', H', W')`` (backbone output after
    the final norm, channels-first like upstream) and ``pooled (B, 8C)`` (their mean over T', H', W').
    B, T, H and W are dynamic.
    """

    def __init__(self, variant: VariantConfig, **kwargs) -> None:
        super().__init__(name=kwargs.pop("name", variant.name), **kwargs)
        self.variant = variant
        self.backbone = SwinTransformer3D(
            patch_size=variant.patch_size,
            in_chans=variant.in_chans,
            embed_dim=variant.embed_dim,
            depths=variant.depths,
            num_heads=variant.num_heads,
            window_size=variant.window_size,
            mlp_ratio=variant.mlp_ratio,
            qkv_bias=variant.qkv_bias,
            drop_path_rate=variant.drop_path_rate,
            patch_norm=variant.patch_norm,
            name="backbone",
        )
        self.cls_head = I3DHead(
            variant.num_classes, variant.num_features, variant.head_dropout, name="cls_head"
        )
        self.built = True

    def call(self, video: tf.Tensor, training: bool | None = None) -> dict[str, tf.Tensor]:
        features = self.backbone(video, training=training)
        pooled = tf.reduce_mean(features, axis=[2, 3, 4])
        return {"logits": self.cls_head(pooled, training=training), "features": features, "pooled": pooled}

    def get_config(self) -> dict:
        return {"variant": self.variant.name}

    @classmethod
    def from_config(cls, config: dict) -> Recognizer3D:
        return cls(get_variant(config["variant"]))


def build_model(variant: str | VariantConfig) -> Recognizer3D:
    """A Keras Video Swin with the architecture of a registry variant (random weights)."""
    return Recognizer3D(get_variant(variant) if isinstance(variant, str) else variant)
