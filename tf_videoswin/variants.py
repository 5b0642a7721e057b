"""Registry of the six upstream Video Swin variants.

Pure Python: importable without torch or TensorFlow. Every fact here comes from the official
SwinTransformer/Video-Swin-Transformer repository (configs under ``configs/recognition/swin`` and the
README's model table, release v1.0.4).
"""

from __future__ import annotations

import dataclasses
from importlib import resources

RELEASE_URL = "https://github.com/SwinTransformer/storage/releases/download/v1.0.4"

#: The official test pipeline's ``img_norm_cfg`` (0-255 scale, RGB, ``to_bgr=False``).
MEAN_RGB: tuple[float, float, float] = (123.675, 116.28, 103.53)
STD_RGB: tuple[float, float, float] = (58.395, 57.12, 57.375)


@dataclasses.dataclass(frozen=True)
class Preprocessing:
    """The official test pipeline of a variant."""

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


@dataclasses.dataclass(frozen=True)
class VariantConfig:
    """Architecture, head, weights and preprocessing of one upstream checkpoint."""

    name: str
    embed_dim: int
    depths: tuple[int, ...]
    num_heads: tuple[int, ...]
    window_size: tuple[int, int, int]
    num_classes: int
    label_file: str
    num_parameters: int
    drop_path_rate: float
    pretrain: str
    top1: float
    top5: float
    patch_size: tuple[int, int, int] = (2, 4, 4)
    in_chans: int = 3
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    patch_norm: bool = True
    head_dropout: float = 0.5
    preprocessing: Preprocessing = Preprocessing()

    @property
    def url(self) -> str:
        return f"{RELEASE_URL}/{self.name}.pth"

    @property
    def num_features(self) -> int:
        """Channels of the backbone output (8C for four stages)."""
        return self.embed_dim * 2 ** (len(self.depths) - 1)

    @property
    def dataset(self) -> str:
        return {
            "kinetics400.txt": "Kinetics-400",
            "kinetics600.txt": "Kinetics-600",
            "something_something_v2.txt": "Something-Something V2",
        }[self.label_file]


_TINY = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
_SMALL = dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24))
_BASE = dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
_K400 = dict(num_classes=400, label_file="kinetics400.txt")
_SSV2_PRE = Preprocessing(num_clips=1, frame_uniform=True)

_VARIANTS = (
    VariantConfig(
        name="swin_tiny_patch244_window877_kinetics400_1k",
        **_TINY,
        **_K400,
        window_size=(8, 7, 7),
        num_parameters=28_158_070,
        drop_path_rate=0.1,
        pretrain="ImageNet-1K",
        top1=78.8,
        top5=93.6,
    ),
    VariantConfig(
        name="swin_small_patch244_window877_kinetics400_1k",
        **_SMALL,
        **_K400,
        window_size=(8, 7, 7),
        num_parameters=49_816_678,
        drop_path_rate=0.1,
        pretrain="ImageNet-1K",
        top1=80.6,
        top5=94.5,
    ),
    VariantConfig(
        name="swin_base_patch244_window877_kinetics400_1k",
        **_BASE,
        **_K400,
        window_size=(8, 7, 7),
        num_parameters=88_048_984,
        drop_path_rate=0.3,
        pretrain="ImageNet-1K",
        top1=80.6,
        top5=94.6,
    ),
    VariantConfig(
        name="swin_base_patch244_window877_kinetics400_22k",
        **_BASE,
        **_K400,
        window_size=(8, 7, 7),
        num_parameters=88_048_984,
        drop_path_rate=0.2,
        pretrain="ImageNet-22K",
        top1=82.7,
        top5=95.5,
    ),
    VariantConfig(
        name="swin_base_patch244_window877_kinetics600_22k",
        **_BASE,
        num_classes=600,
        label_file="kinetics600.txt",
        window_size=(8, 7, 7),
        num_parameters=88_253_984,
        drop_path_rate=0.2,
        pretrain="ImageNet-22K",
        top1=84.0,
        top5=96.5,
    ),
    VariantConfig(
        name="swin_base_patch244_window1677_sthv2",
        **_BASE,
        num_classes=174,
        label_file="something_something_v2.txt",
        window_size=(16, 7, 7),
        num_parameters=88_834_038,
        drop_path_rate=0.4,
        pretrain="Kinetics-400",
        top1=69.6,
        top5=92.7,
        preprocessing=_SSV2_PRE,
    ),
)

VARIANTS: dict[str, VariantConfig] = {v.name: v for v in _VARIANTS}


class UnknownVariantError(KeyError):
    """Raised for a variant name that is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def get_variant(name: str) -> VariantConfig:
    """Return the registry entry for ``name`` or raise :class:`UnknownVariantError`."""
    try:
        return VARIANTS[name]
    except KeyError:
        choices = ", ".join(VARIANTS)
        raise UnknownVariantError(f"unknown variant {name!r}; choose one of: {choices}") from None


def load_labels(variant: str | VariantConfig) -> list[str]:
    """Class names of a variant's dataset, in the order of the classifier's outputs."""
    cfg = get_variant(variant) if isinstance(variant, str) else variant
    text = resources.files("tf_videoswin").joinpath("labels", cfg.label_file).read_text("utf-8")
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if len(labels) != cfg.num_classes:
        raise ValueError(f"{cfg.label_file} has {len(labels)} labels, expected {cfg.num_classes}")
    return labels
