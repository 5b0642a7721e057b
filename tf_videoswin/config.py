"""What a Video Swin model is (architecture) and what its input must be (preprocessing).

Pure dataclasses with no TensorFlow or torch: the registry (:mod:`tf_videoswin.variants`), the Keras
model, the PyTorch reference and the export metadata all describe a model with these two classes.
A registry entry (a *preset*) adds names, weights and accuracies on top; the model only ever sees a
:class:`VideoSwinConfig`, so a changed model (another head size, another depth) needs no preset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

#: The official test pipeline's ``img_norm_cfg`` (0-255 scale, RGB, ``to_bgr=False``).
MEAN_RGB: tuple[float, float, float] = (123.675, 116.28, 103.53)
STD_RGB: tuple[float, float, float] = (58.395, 57.12, 57.375)

#: Where the test clips of a video start (``SampleFrames`` in test mode with ``num_clips`` clips).
#: ``segment_centres``: the official pipeline (mmaction 0.x): clip ``i`` starts at the centre of segment
#: ``i`` of ``num_frames - clip_len * frame_interval + 1`` frames. ``evenly_spaced``: mmaction2 1.x
#: (aligned with PySlowFast): starts spread evenly, rounded, from 0 to
#: ``num_frames - ((clip_len - 1) * frame_interval + 1)``.
CLIP_STARTS = ("segment_centres", "evenly_spaced")
#: The normalisation arithmetic in float32: ``multiply_inverse_std``: ``(x - mean) * (1 / std)``, the
#: official pipeline's ``Normalize`` (``mmcv.imnormalize_``); ``divide_by_std``: ``(x - mean) / std``,
#: mmaction2 1.x's ``ActionDataPreprocessor``. They differ by at most one float32 rounding step.
NORMALIZATIONS = ("multiply_inverse_std", "divide_by_std")
#: PyTorch's ``nn.LayerNorm`` default, which every LayerNorm of Video Swin uses; Keras' own default
#: (1e-3) shifts Swin-T features by ~3e-3.
LAYER_NORM_EPSILON = 1e-5
#: What a model's matmuls can compute in (variables always stay float32): float32 is the exact path,
#: bfloat16 for CPUs with bf16 arithmetic, float16 for GPUs.
PRECISIONS = ("float32", "bfloat16", "float16")
#: What fine-tuning may compute in: float16 would need loss scaling (small gradients underflow its
#: range); bfloat16 has float32's exponent and trains without it.
TRAINING_PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else ``ValueError``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def check_attention_precision(attention_precision: str, precision: str) -> str:
    """``"float32"`` (the default: attention logits, bias, mask and softmax in float32) or the model's
    own reduced ``precision`` (all of them in that dtype, see
    :func:`tf_videoswin.model.functional.window_attention`)."""
    allowed = ("float32",) if precision == "float32" else ("float32", precision)
    if attention_precision not in allowed:
        raise ValueError(
            f"attention_precision must be one of {allowed} for precision {precision!r}, "
            f"got {attention_precision!r}"
        )
    return attention_precision


def _tuple_fields(cls, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` checked against the dataclass fields of ``cls``, lists turned into tuples."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {unknown}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


@dataclasses.dataclass(frozen=True)
class VideoSwinConfig:
    """Architecture of a Video Swin backbone and its I3D head (constructor arguments of the model).

    Defaults are Swin-T with the Kinetics-400 head. ``num_classes=0`` means no head (features only).
    """

    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (3, 6, 12, 24)
    window_size: tuple[int, int, int] = (8, 7, 7)
    patch_size: tuple[int, int, int] = (2, 4, 4)
    in_chans: int = 3
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    patch_norm: bool = True
    drop_path_rate: float = 0.2
    num_classes: int = 400
    head_dropout: float = 0.5

    def __post_init__(self) -> None:
        if len(self.depths) != len(self.num_heads) or not self.depths:
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} need the same length")
        if len(self.window_size) != 3 or len(self.patch_size) != 3:
            raise ValueError("window_size and patch_size are (T, H, W) triples")
        for i, heads in enumerate(self.num_heads):
            if (self.embed_dim * 2**i) % heads:
                raise ValueError(
                    f"stage {i}: {self.embed_dim * 2**i} channels do not split into {heads} heads"
                )
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0: no head), got {self.num_classes}")

    @property
    def num_features(self) -> int:
        """Channels of the backbone output (8C for four stages)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)

    def replace(self, **changes: Any) -> VideoSwinConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoSwinConfig:
        return cls(**_tuple_fields(cls, data))


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The test pipeline of a variant: what an input clip must look like, how to view a video.

    Defaults are the official (mmaction 0.x) Kinetics pipeline; ``clip_starts`` and ``normalization``
    name where mmaction2 1.x's pipeline differs (see :data:`CLIP_STARTS`, :data:`NORMALIZATIONS`).
    """

    clip_len: int = 32
    frame_interval: int = 2
    num_clips: int = 4
    frame_uniform: bool = False
    short_side: int = 224
    crop_size: int = 224
    num_crops: int = 3
    mean: tuple[float, float, float] = MEAN_RGB
    std: tuple[float, float, float] = STD_RGB
    channel_order: str = "RGB"
    average_clips: str = "prob"
    clip_starts: str = "segment_centres"
    normalization: str = "multiply_inverse_std"

    def __post_init__(self) -> None:
        if self.clip_starts not in CLIP_STARTS:
            raise ValueError(f"clip_starts must be one of {CLIP_STARTS}, got {self.clip_starts!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        return cls(**_tuple_fields(cls, data))
