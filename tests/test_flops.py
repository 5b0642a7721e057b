"""The MAC count used by the benchmark's arithmetic floor, against the official README's FLOPs."""

import pytest

from tf_videoswin.model.flops import STAGE_PARTS, count_macs, gflop, stage_macs
from tf_videoswin.variants import VARIANTS, get_variant


@pytest.mark.parametrize(
    ("variant", "official_gflops"),
    [  # "FLOPs" column of the official README (per view, 32x224x224; fvcore counts MACs)
        ("swin_tiny_patch244_window877_kinetics400_1k", 88),
        ("swin_small_patch244_window877_kinetics400_1k", 166),
        ("swin_base_patch244_window877_kinetics400_1k", 282),
        ("swin_base_patch244_window877_kinetics600_22k", 282),
        ("swin_base_patch244_window1677_sthv2", 321),
    ],
)
def test_macs_match_the_official_flops(variant, official_gflops):
    macs = count_macs(get_variant(variant))
    assert round(macs["total"] / 1e9) == official_gflops
    assert macs["total"] == sum(v for k, v in macs.items() if k != "total")


def test_small_inputs_use_clipped_windows_and_padding():
    cfg = get_variant("swin_tiny_patch244_window877_kinetics400_1k")
    # 4x28x28 -> tokens 2x7x7 in stage 1: the window clips to 2x7x7 (N = 98), no padding.
    macs = count_macs(cfg, 4, 28, 28)
    tokens, n, c = 2 * 7 * 7, 98, 96
    attention = tokens * c * 3 * c + 2 * tokens * n * c + tokens * c * c
    block = attention + 2 * tokens * c * 4 * c + 10 * tokens * c  # + norm1, norm2
    merging = 2 * 4 * 4 * 4 * c * (2 * c + 5)  # norm + reduction on 7x7 -> ceil 4x4
    assert macs["layers.0"] == 2 * block + merging
    assert gflop(cfg, 4, 28, 28) == pytest.approx(2 * macs["total"] / 1e9)
    # Odd sizes pad the attention (not the MLP): 8x60x60 -> tokens 4x15x15, windows 4x7x7 over 4x21x21.
    odd = count_macs(cfg, 8, 60, 60)["layers.0"]
    tokens, padded, n = 4 * 15 * 15, 4 * 21 * 21, 4 * 7 * 7
    block = padded * c * 4 * c + 2 * padded * n * c + 2 * tokens * c * 4 * c + 10 * tokens * c
    assert odd == 2 * block + 4 * 8 * 8 * 4 * c * (2 * c + 5)


@pytest.mark.parametrize(
    ("variant", "metafile_gflops"),
    [  # "FLOPs" of mmaction2's configs/recognition/swin/metafile.yml (32x224x224, per view)
        ("swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", 88),
        ("swin-small-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", 166),
        ("swin-base-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", 282),
        ("swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb", 604),
        ("swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb", 604),
    ],
)
def test_macs_match_the_mmaction2_flops(variant, metafile_gflops):
    assert round(count_macs(get_variant(variant))["total"] / 1e9) == metafile_gflops


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("size", [(32, 224, 224), (8, 60, 60), (3, 33, 47)])
def test_stage_parts_add_up_to_the_stages(variant, size):
    macs, parts = count_macs(get_variant(variant), *size), stage_macs(get_variant(variant), *size)
    assert len(parts) == 4 and all(list(p) == list(STAGE_PARTS) for p in parts)
    assert [sum(p.values()) for p in parts] == [macs[f"layers.{i}"] for i in range(4)]
    assert parts[3]["merging"] == 0  # the last stage has no PatchMerging


def test_stage_parts_count_what_each_part_computes():
    cfg = get_variant("swin_tiny_patch244_window877_kinetics400_1k")
    # 8x60x60 -> tokens 4x15x15 in stage 1, windows 4x7x7 over the padded 4x21x21; two blocks.
    first = stage_macs(cfg, 8, 60, 60)[0]
    tokens, padded, n, c = 4 * 15 * 15, 4 * 21 * 21, 4 * 7 * 7, 96
    assert first["attention"] == 2 * (padded * c * 3 * c + 2 * padded * n * c)
    assert first["proj"] == 2 * padded * c * c
    assert first["mlp"] == 2 * 2 * tokens * c * 4 * c
    assert first["norm"] == 2 * 10 * tokens * c
    assert first["merging"] == 4 * 8 * 8 * 4 * c * (2 * c + 5)
