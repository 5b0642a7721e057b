import dataclasses
import json
import subprocess
import sys

import pytest

from tf_videoswin.config import Preprocessing
from tf_videoswin.variants import (
    MMACTION2_VARIANTS,
    OFFICIAL_VARIANTS,
    VARIANTS,
    UnknownVariantError,
    VariantConfig,
    get_variant,
    load_labels,
)

from .conftest import GOLDEN_DIR

UPSTREAM_NAMES = [
    "swin_tiny_patch244_window877_kinetics400_1k",
    "swin_small_patch244_window877_kinetics400_1k",
    "swin_base_patch244_window877_kinetics400_1k",
    "swin_base_patch244_window877_kinetics400_22k",
    "swin_base_patch244_window877_kinetics600_22k",
    "swin_base_patch244_window1677_sthv2",
]


#: mmaction2 1.x (configs/recognition/swin: metafile.yml, README.md): name, arch, pretrain, top-1, top-5,
#: file-name suffix (date - first 8 hex digits of the file's sha256). Copied from the issue's table.
MMACTION2_TABLE = [
    (
        "swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "T",
        "1K",
        78.90,
        93.77,
        "20220930-241016b2",
    ),
    (
        "swin-small-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "S",
        "1K",
        80.54,
        94.46,
        "20220930-e91ab986",
    ),
    (
        "swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "B",
        "1K",
        80.57,
        94.49,
        "20220930-182ec6cc",
    ),
    (
        "swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb",
        "L",
        "22K",
        83.46,
        95.91,
        "20220930-78ad8b11",
    ),
    (
        "swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb",
        "L",
        "22K",
        75.92,
        92.72,
        "20220930-f8d74db7",
    ),
    (
        "swin-small-p244-w877_in1k-pre_32xb4-amp-32x2x1-30e_kinetics710-rgb",
        "S",
        "1K",
        76.90,
        92.96,
        "20230612-8e082ff1",
    ),
]
MMACTION2_NAMES = [row[0] for row in MMACTION2_TABLE]
#: embed_dim, depths, heads of the mmaction2 ``arch_zoo`` (mmaction/models/backbones/swin.py).
ARCH_ZOO = {
    "T": (96, (2, 2, 6, 2), (3, 6, 12, 24)),
    "S": (96, (2, 2, 18, 2), (3, 6, 12, 24)),
    "B": (128, (2, 2, 18, 2), (4, 8, 16, 32)),
    "L": (192, (2, 2, 18, 2), (6, 12, 24, 48)),
}


def test_registry_names_are_upstream_names():
    # The six official names first, in order, then the six mmaction2 ones.
    assert list(VARIANTS)[: len(UPSTREAM_NAMES)] == UPSTREAM_NAMES
    assert list(VARIANTS) == UPSTREAM_NAMES + MMACTION2_NAMES
    assert list(OFFICIAL_VARIANTS) == UPSTREAM_NAMES and list(MMACTION2_VARIANTS) == MMACTION2_NAMES


def test_registry_imports_without_torch_or_tensorflow():
    code = (
        "import sys, tf_videoswin, tf_videoswin.variants as v; v.load_labels(next(iter(v.VARIANTS)));"
        "bad = [m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", UPSTREAM_NAMES)
def test_registry_matches_official_key_lists(name, golden_gen):
    spec = json.loads((GOLDEN_DIR / "data" / f"keys_{name}.json").read_text())
    cfg = get_variant(name)
    bb, head = spec["backbone_cfg"], spec["head_cfg"]
    assert spec["num_parameters"] == cfg.num_parameters
    assert tuple(bb["patch_size"]) == cfg.arch.patch_size
    assert bb["embed_dim"] == cfg.arch.embed_dim
    assert tuple(bb["depths"]) == cfg.arch.depths
    assert tuple(bb["num_heads"]) == cfg.arch.num_heads
    assert tuple(bb["window_size"]) == cfg.arch.window_size
    assert bb["drop_path_rate"] == cfg.arch.drop_path_rate
    assert head["num_classes"] == cfg.num_classes
    assert head["in_channels"] == cfg.num_features
    assert head["dropout_ratio"] == cfg.arch.head_dropout
    assert cfg.url == f"https://github.com/SwinTransformer/storage/releases/download/v1.0.4/{name}.pth"


@pytest.mark.parametrize("name", UPSTREAM_NAMES + MMACTION2_NAMES)
def test_labels_match_num_classes(name):
    labels = load_labels(name)
    assert len(labels) == get_variant(name).num_classes
    assert len(set(labels)) == len(labels)


def test_preprocessing_follows_official_test_pipelines():
    k400 = get_variant(UPSTREAM_NAMES[0]).preprocessing
    assert (k400.clip_len, k400.frame_interval, k400.num_clips, k400.num_crops) == (32, 2, 4, 3)
    assert not k400.frame_uniform
    ssv2 = get_variant(UPSTREAM_NAMES[-1]).preprocessing
    assert (ssv2.num_clips, ssv2.frame_uniform, ssv2.num_crops) == (1, True, 3)
    assert k400.mean == (123.675, 116.28, 103.53) and k400.std == (58.395, 57.12, 57.375)


def test_unknown_variant_lists_choices():
    with pytest.raises(UnknownVariantError, match="choose one of: swin_tiny"):
        get_variant("swin_huge")


@pytest.mark.parametrize(("name", "size", "pretrain", "top1", "top5", "suffix"), MMACTION2_TABLE)
def test_mmaction2_entries_follow_the_model_zoo(name, size, pretrain, top1, top5, suffix):
    cfg = get_variant(name)
    embed_dim, depths, heads = ARCH_ZOO[size]
    assert (cfg.arch.embed_dim, cfg.arch.depths, cfg.arch.num_heads) == (embed_dim, depths, heads)
    assert cfg.arch.window_size == (8, 7, 7) and cfg.arch.patch_size == (2, 4, 4)
    assert cfg.arch.head_dropout == 0.5
    assert cfg.arch.drop_path_rate == {"T": 0.1, "S": 0.2, "B": 0.3, "L": 0.4}[size]
    assert cfg.num_classes == int(name.rsplit("kinetics", 1)[1].split("-")[0])
    assert cfg.num_features == 8 * embed_dim  # I3D head in_channels: 768 / 768 / 1024 / 1536
    assert cfg.pretrain == f"ImageNet-{pretrain}"
    assert (cfg.top1, cfg.top5) == (top1, top5)
    assert "mmaction2" in cfg.accuracy_source and "re-test" in cfg.accuracy_source
    assert cfg.url == (
        f"https://download.openmmlab.com/mmaction/v1.0/recognition/swin/{name}/{name}_{suffix}.pth"
    )
    # Only the prefix is published: it is recorded as a prefix, never padded into a "full" digest.
    assert cfg.checkpoint_sha256 is None and cfg.checkpoint_sha256_prefix == suffix[-8:]
    assert cfg.layout == "mmaction2" and cfg.final_norm == "norm3"
    assert cfg.repository == "https://github.com/open-mmlab/mmaction2"


@pytest.mark.parametrize("name", UPSTREAM_NAMES)
def test_official_entries_keep_the_official_layout(name):
    cfg = get_variant(name)
    assert cfg.layout == "official" and cfg.final_norm == "norm" and cfg.checkpoint_sha256_prefix is None
    assert cfg.accuracy_source == "official README (Video-Swin-Transformer)"


def _parameter_count(cfg: VariantConfig) -> int:
    """Parameters of a Video Swin recogniser counted by hand from its architecture."""
    a = cfg.arch
    wd, wh, ww = a.window_size
    table = (2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1)
    pd, ph, pw = a.patch_size
    total = a.in_chans * pd * ph * pw * a.embed_dim + a.embed_dim + 2 * a.embed_dim  # conv + bias + norm
    for i, (depth, heads) in enumerate(zip(a.depths, a.num_heads, strict=True)):
        c = a.embed_dim * 2**i
        hidden = int(c * a.mlp_ratio)
        block = (
            2 * c + (3 * c * c + 3 * c) + table * heads + (c * c + c) + 2 * c
        )  # norm1, qkv, bias, proj, norm2
        block += (c * hidden + hidden) + (hidden * c + c)  # fc1, fc2
        total += depth * block
        if i < len(a.depths) - 1:
            total += 2 * 4 * c + 4 * c * 2 * c  # PatchMerging: norm over 4C, reduction 4C -> 2C (no bias)
    return total + 2 * a.num_features + a.num_features * a.num_classes + a.num_classes  # final norm, head


@pytest.mark.parametrize("name", UPSTREAM_NAMES + MMACTION2_NAMES)
def test_num_parameters_counted_by_hand(name):
    cfg = get_variant(name)
    assert cfg.num_parameters == _parameter_count(cfg)


def test_swin_l_is_the_197m_of_the_mmaction2_model_zoo():
    for name in MMACTION2_NAMES[3:5]:
        assert round(get_variant(name).num_parameters / 1e6) == 197  # metafile.yml: "Parameters: 197M"


def test_kinetics700_and_710_label_lists():
    k400, k700, k710 = (load_labels(n) for n in MMACTION2_NAMES[3:6])
    assert (len(k400), len(k700), len(k710)) == (400, 700, 710)
    assert k700 == sorted(k700)  # mmaction2's label_map_k700.txt is alphabetical
    # K710 merges K400/600/700 under the newer class names: every K700 class is in it but one renamed.
    assert set(k700) - set(k710) == {"throwing ball (not baseball or American football)"}
    assert "throwing ball" in k710


def test_mmaction2_test_pipeline_differs_where_mmaction2_differs():
    official = get_variant(UPSTREAM_NAMES[0]).preprocessing
    assert (official.clip_starts, official.normalization) == ("segment_centres", "multiply_inverse_std")
    for name in MMACTION2_NAMES:
        pre = get_variant(name).preprocessing
        assert (pre.clip_len, pre.frame_interval, pre.num_clips, pre.num_crops) == (32, 2, 4, 3)
        assert (pre.short_side, pre.crop_size, pre.frame_uniform) == (224, 224, False)
        assert pre.mean == official.mean and pre.std == official.std and pre.channel_order == "RGB"
        assert (pre.clip_starts, pre.normalization) == ("evenly_spaced", "divide_by_std")
        assert Preprocessing.from_dict(pre.to_dict()) == pre
    # Metadata of 0.2 exports has neither field: it reads as the official pipeline.
    old = {k: v for k, v in official.to_dict().items() if k not in ("clip_starts", "normalization")}
    assert Preprocessing.from_dict(old) == official


def test_invalid_entries_are_refused():
    cfg = get_variant(MMACTION2_NAMES[0])
    with pytest.raises(ValueError, match="layout"):
        dataclasses.replace(cfg, layout="detectron")
    with pytest.raises(ValueError, match="hex"):
        dataclasses.replace(cfg, checkpoint_sha256_prefix="24101")
    with pytest.raises(ValueError, match="clip_starts"):
        Preprocessing(clip_starts="random")
    with pytest.raises(ValueError, match="normalization"):
        Preprocessing(normalization="divide")
