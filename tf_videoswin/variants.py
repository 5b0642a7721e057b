"""Registry of the upstream Video Swin checkpoints (presets), keyed by their upstream names.

Pure Python: importable without torch or TensorFlow, and it imports nothing of the model. Each entry
is a preset: an architecture (:class:`~tf_videoswin.config.VideoSwinConfig`) plus where its weights
come from, the key layout of its checkpoint, its label set, its test pipeline and its published accuracy.

Two upstreams, in this order:

- the six checkpoints of the official SwinTransformer/Video-Swin-Transformer repository (configs under
  ``configs/recognition/swin`` and the README's model table, release v1.0.4);
- the six Video Swin checkpoints of open-mmlab/mmaction2 1.x (``configs/recognition/swin``: configs,
  ``metafile.yml`` and ``README.md``), named exactly as mmaction2 names them. They are the only published
  Swin-L weights. Their accuracies are mmaction2's own re-test (32x2x1 clips, 4 clips x 3 crops). mmaction2
  publishes no full sha256: the 8 hex digits at the end of each file name are the first 8 of the file's
  sha256 (``tools/deployment/publish_model.py``), and downloads are checked against that prefix.
"""

from __future__ import annotations

import dataclasses
import difflib
from importlib import resources

from .config import MEAN_RGB, STD_RGB, Preprocessing, VideoSwinConfig
from .errors import UnknownVariantError

__all__ = [
    "FINAL_NORM",
    "LAYOUTS",
    "MEAN_RGB",
    "MMACTION2",
    "MMACTION2_VARIANTS",
    "OFFICIAL",
    "OFFICIAL_VARIANTS",
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
MMACTION2_REPOSITORY = "https://github.com/open-mmlab/mmaction2"
MMACTION2_URL = "https://download.openmmlab.com/mmaction/v1.0/recognition/swin"

#: Checkpoint key layouts. They differ only in the name of the backbone's final LayerNorm.
OFFICIAL = "official"
MMACTION2 = "mmaction2"
LAYOUTS = (OFFICIAL, MMACTION2)
#: The backbone's final LayerNorm per layout: mmaction2 1.x keeps one norm per ``out_indices`` entry,
#: ``norm3`` for ``out_indices=(3,)``, where the official checkpoints have ``norm``.
FINAL_NORM = {OFFICIAL: "norm", MMACTION2: "norm3"}

#: Label file -> dataset name.
DATASETS = {
    "kinetics400.txt": "Kinetics-400",
    "kinetics600.txt": "Kinetics-600",
    "kinetics700.txt": "Kinetics-700",
    "kinetics710.txt": "Kinetics-710",
    "something_something_v2.txt": "Something-Something V2",
}


@dataclasses.dataclass(frozen=True)
class VariantConfig:
    """One upstream checkpoint: its architecture, weights, key layout, labels, test pipeline and accuracy.

    ``layout`` is ``official`` or ``mmaction2`` (:data:`LAYOUTS`). ``checkpoint_sha256`` is the full
    published digest when there is one; ``checkpoint_sha256_prefix`` the published prefix otherwise.
    """

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
    layout: str = OFFICIAL
    checkpoint_sha256_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"{self.name}: layout must be one of {LAYOUTS}, got {self.layout!r}")
        for digest in (self.checkpoint_sha256, self.checkpoint_sha256_prefix):
            if digest is not None and (len(digest) < 8 or set(digest) - set("0123456789abcdef")):
                raise ValueError(f"{self.name}: {digest!r} is not a lowercase hex sha256 (prefix)")

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

    @property
    def final_norm(self) -> str:
        """Module name of the backbone's final LayerNorm in this checkpoint (``norm`` or ``norm3``)."""
        return FINAL_NORM[self.layout]


_TINY = VideoSwinConfig(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
_SMALL = _TINY.replace(depths=(2, 2, 18, 2))
_BASE = VideoSwinConfig(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
_LARGE = VideoSwinConfig(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48))
_K400 = "kinetics400.txt"
#: mmaction2 1.x's Kinetics test pipeline: the official 32x2x1, 4 clips x 3 crops, short side 224, same
#: mean/std, but clips start evenly spaced (SampleFrames aligned with PySlowFast) and pixels are divided
#: by std in ActionDataPreprocessor.
_MMACTION2_TEST = Preprocessing(clip_starts="evenly_spaced", normalization="divide_by_std")


def _mmaction2(name: str, suffix: str, arch: VideoSwinConfig, **fields) -> VariantConfig:
    """An mmaction2 1.x checkpoint: ``<name>/<name>_<date>-<sha256[:8]>.pth`` on download.openmmlab.com."""
    return VariantConfig(
        name=name,
        arch=arch,
        preprocessing=_MMACTION2_TEST,
        repository=MMACTION2_REPOSITORY,
        checkpoint_url=f"{MMACTION2_URL}/{name}/{name}_{suffix}.pth",
        checkpoint_sha256_prefix=suffix.rsplit("-", 1)[1],
        accuracy_source="mmaction2 re-test (configs/recognition/swin/README.md, mmaction2 1.x)",
        layout=MMACTION2,
        **fields,
    )


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
    # mmaction2 1.x (configs/recognition/swin): drop_path_rate T 0.1, S 0.2, B 0.3, L 0.4; head dropout 0.5.
    _mmaction2(
        "swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "20220930-241016b2",
        _TINY.replace(drop_path_rate=0.1, num_classes=400),
        label_file=_K400,
        num_parameters=28_158_070,
        pretrain="ImageNet-1K",
        top1=78.90,
        top5=93.77,
    ),
    _mmaction2(
        "swin-small-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "20220930-e91ab986",
        _SMALL.replace(drop_path_rate=0.2, num_classes=400),
        label_file=_K400,
        num_parameters=49_816_678,
        pretrain="ImageNet-1K",
        top1=80.54,
        top5=94.46,
    ),
    _mmaction2(
        "swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "20220930-182ec6cc",
        _BASE.replace(drop_path_rate=0.3, num_classes=400),
        label_file=_K400,
        num_parameters=88_048_984,
        pretrain="ImageNet-1K",
        top1=80.57,
        top5=94.49,
    ),
    _mmaction2(
        "swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "20220930-78ad8b11",
        _LARGE.replace(drop_path_rate=0.4, num_classes=400),
        label_file=_K400,
        num_parameters=196_953_916,
        pretrain="ImageNet-22K",
        top1=83.46,
        top5=95.91,
    ),
    _mmaction2(
        "swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb",
        "20220930-f8d74db7",
        _LARGE.replace(drop_path_rate=0.4, num_classes=700),
        label_file="kinetics700.txt",
        num_parameters=197_415_016,
        pretrain="ImageNet-22K",
        top1=75.92,
        top5=92.72,
    ),
    _mmaction2(
        "swin-small-p244-w877_in1k-pre_32xb4-amp-32x2x1-30e_kinetics710-rgb",
        "20230612-8e082ff1",
        _SMALL.replace(drop_path_rate=0.2, num_classes=710),
        label_file="kinetics710.txt",
        num_parameters=50_055_068,
        pretrain="ImageNet-1K",
        top1=76.90,
        top5=92.96,
    ),
)

VARIANTS: dict[str, VariantConfig] = {v.name: v for v in _VARIANTS}
#: Names of the official checkpoints and of the mmaction2 ones, each in registry order.
OFFICIAL_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.layout == OFFICIAL)
MMACTION2_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.layout == MMACTION2)


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
