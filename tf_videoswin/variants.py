"""Registry of the upstream Video Swin checkpoints (presets), keyed by their upstream names.

Pure Python: importable without torch or TensorFlow, and it imports nothing of the model. Each entry
is a preset: an architecture (:class:`~tf_videoswin.config.VideoSwinConfig`) plus where its weights
come from, its label set, its test pipeline and its published accuracy. Every fact comes from the
official SwinTransformer/Video-Swin-Transformer repository (configs under ``configs/recognition/swin``
and the README's model table, release v1.0.4).
"""

from __future__ import annotations

import dataclasses
import difflib
from importlib import resources

from .config import MEAN_RGB, STD_RGB, Preprocessing, VideoSwinConfig
from .errors import UnknownVariantError

__all__ = [
    "MEAN_RGB",
    "RELEASE_URL",
    "STD_RGB",
    "VARIANTS",
    "Preprocessing",
    "UnknownVariantError",
    "VariantConfig",
    "get_variant",
    "load_labels",
]

RELEASE_URL = "https://github.com/SwinTransformer/storage/releases/download/v1.0.4"
OFFICIAL_REPOSITORY = "https://github.com/SwinTransformer/Video-Swin-Transformer"

#: Label file -> dataset name.
DATASETS = {
    "kinetics400.txt": "Kinetics-400",
    "kinetics600.txt": "Kinetics-600",
    "something_something_v2.txt": "Something-Something V2",
}


@dataclasses.dataclass(frozen=True)
class VariantConfig:
    """One upstream checkpoint: its architecture, weights, labels, test pipeline and accuracy."""

    name: str
    arch: VideoSwinConfig
    label_file: str
    num_parameters: int
    pretrain: str
    top1: float
    top5: float
    preprocessing: Preprocessing = dataclasses.field(default_factory=Preprocessing)
    repository: str = OFFICIAL_REPOSITORY
    checkpoint_url: str = ""
    checkpoint_sha256: str | None = None
    accuracy_source: str = "official README (Video-Swin-Transformer)"

    @property
    def url(self) -> str:
        """Where the checkpoint is downloaded from."""
        return self.checkpoint_url or f"{RELEASE_URL}/{self.name}.pth"

    @property
    def num_classes(self) -> int:
        return self.arch.num_classes

    @property
    def num_features(self) -> int:
        """Channels of the backbone output (8C for four stages)."""
        return self.arch.num_features

    @property
    def dataset(self) -> str:
        return DATASETS[self.label_file]


_TINY = VideoSwinConfig(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
_SMALL = _TINY.replace(depths=(2, 2, 18, 2))
_BASE = VideoSwinConfig(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
_K400 = "kinetics400.txt"

_VARIANTS = (
    VariantConfig(
        name="swin_tiny_patch244_window877_kinetics400_1k",
        arch=_TINY.replace(drop_path_rate=0.1, num_classes=400),
        label_file=_K400,
        num_parameters=28_158_070,
        pretrain="ImageNet-1K",
        top1=78.8,
        top5=93.6,
    ),
    VariantConfig(
        name="swin_small_patch244_window877_kinetics400_1k",
        arch=_SMALL.replace(drop_path_rate=0.1, num_classes=400),
        label_file=_K400,
        num_parameters=49_816_678,
        pretrain="ImageNet-1K",
        top1=80.6,
        top5=94.5,
    ),
    VariantConfig(
        name="swin_base_patch244_window877_kinetics400_1k",
        arch=_BASE.replace(drop_path_rate=0.3, num_classes=400),
        label_file=_K400,
        num_parameters=88_048_984,
        pretrain="ImageNet-1K",
        top1=80.6,
        top5=94.6,
    ),
    VariantConfig(
        name="swin_base_patch244_window877_kinetics400_22k",
        arch=_BASE.replace(drop_path_rate=0.2, num_classes=400),
        label_file=_K400,
        num_parameters=88_048_984,
        pretrain="ImageNet-22K",
        top1=82.7,
        top5=95.5,
    ),
    VariantConfig(
        name="swin_base_patch244_window877_kinetics600_22k",
        arch=_BASE.replace(drop_path_rate=0.2, num_classes=600),
        label_file="kinetics600.txt",
        num_parameters=88_253_984,
        pretrain="ImageNet-22K",
        top1=84.0,
        top5=96.5,
    ),
    VariantConfig(
        name="swin_base_patch244_window1677_sthv2",
        arch=_BASE.replace(window_size=(16, 7, 7), drop_path_rate=0.4, num_classes=174),
        label_file="something_something_v2.txt",
        num_parameters=88_834_038,
        pretrain="Kinetics-400",
        top1=69.6,
        top5=92.7,
        preprocessing=Preprocessing(num_clips=1, frame_uniform=True),
    ),
)

VARIANTS: dict[str, VariantConfig] = {v.name: v for v in _VARIANTS}


def get_variant(name: str | VariantConfig) -> VariantConfig:
    """The registry entry for ``name`` (an entry passes through).

    Raises:
        UnknownVariantError: ``name`` is not registered; the message suggests close names and lists all.
    """
    if isinstance(name, VariantConfig):
        return name
    try:
        return VARIANTS[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(VARIANTS), n=3, cutoff=0.6)
        hint = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        choices = ", ".join(VARIANTS)
        raise UnknownVariantError(f"unknown variant {name!r}; {hint}choose one of: {choices}") from None


def read_label_file(label_file: str) -> list[str]:
    """Class names in a packaged label file, one per line, in output order."""
    text = resources.files("tf_videoswin").joinpath("labels", label_file).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def load_labels(variant: str | VariantConfig) -> list[str]:
    """Class names of a variant's dataset, in the order of the classifier's outputs."""
    cfg = get_variant(variant)
    labels = read_label_file(cfg.label_file)
    if len(labels) != cfg.num_classes:
        raise ValueError(f"{cfg.label_file} has {len(labels)} labels, expected {cfg.num_classes}")
    return labels
