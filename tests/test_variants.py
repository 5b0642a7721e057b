import json
import subprocess
import sys

import pytest

from tf_videoswin.variants import VARIANTS, UnknownVariantError, get_variant, load_labels

from .conftest import GOLDEN_DIR

UPSTREAM_NAMES = [
    "swin_tiny_patch244_window877_kinetics400_1k",
    "swin_small_patch244_window877_kinetics400_1k",
    "swin_base_patch244_window877_kinetics400_1k",
    "swin_base_patch244_window877_kinetics400_22k",
    "swin_base_patch244_window877_kinetics600_22k",
    "swin_base_patch244_window1677_sthv2",
]


def test_registry_names_are_upstream_names():
    assert list(VARIANTS) == UPSTREAM_NAMES


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


@pytest.mark.parametrize("name", UPSTREAM_NAMES)
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
