"""Parity: against the unmodified official code (goldens), and TF vs reference_torch."""

import numpy as np
import pytest
import tensorflow as tf
import torch

from porting import parity
from porting.pipeline import port_checkpoint
from tf_videoswin.config import VideoSwinConfig
from tf_videoswin.variants import OFFICIAL_VARIANTS, get_variant

from .conftest import STHV2, TINY

GOLDEN_TOLERANCE = 1e-4  # official float32 vs float64 differ by <= 4e-6; a correct port lands ~1e-5


def _models(name, state_dict):
    ported = port_checkpoint(name, state_dict)
    return ported.tf_model, ported.reference


@pytest.mark.parametrize("name", [TINY, STHV2])
def test_reference_and_port_match_official_goldens(name, synthetic_state_dict, golden_outputs):
    golden = golden_outputs(name)
    tf_model, torch_model = _models(name, synthetic_state_dict(name))
    with torch.no_grad():
        ref = {k: v.numpy() for k, v in torch_model(torch.from_numpy(golden["input"])).items()}
    ours = {k: v.numpy() for k, v in tf_model(tf.constant(golden["input"]), training=False).items()}
    for key in ("features", "pooled", "logits"):
        assert ref[key].shape == golden[key].shape
        assert np.abs(ref[key] - golden[key]).max() <= GOLDEN_TOLERANCE, f"reference_torch {key}"
        assert ours[key].shape == golden[key].shape
        assert np.abs(ours[key] - golden[key]).max() <= GOLDEN_TOLERANCE, f"tf_videoswin {key}"


def _forward_arch(name: str) -> VideoSwinConfig:
    """The variant's architecture without the settings that do not change an inference forward's
    arithmetic (the head's width changes only its size; dropout and drop path are off)."""
    return get_variant(name).arch.replace(num_classes=0, drop_path_rate=0.0, head_dropout=0.0)


#: T, H, W that pad every stage and clip windows in the late stages (the golden inputs' too).
ODD_SHAPE = (1, 3, 18, 70, 90)
#: Variants whose forward the golden test above proves at the odd shape's T, H, W.
GOLDEN_VARIANTS = (TINY, STHV2)


def _first_of_each_forward(names) -> list[str]:
    """``names`` less those whose forward is already proven at the odd shape, by the golden test or by an
    earlier variant computing the same forward: Swin-B on Kinetics-400 22k and Kinetics-600 22k compute
    Swin-B Kinetics-400 1k's (see the test below)."""
    seen, first = {_forward_arch(n) for n in GOLDEN_VARIANTS}, []
    for name in names:
        if (arch := _forward_arch(name)) not in seen:
            first.append(name)
        seen.add(arch)
    return first


#: One variant per distinct forward among the official ones (Swin-T, Swin-S, Swin-B 8x7x7, Swin-B 16x7x7).
DISTINCT_FORWARDS = list(dict.fromkeys([*GOLDEN_VARIANTS, *_first_of_each_forward(OFFICIAL_VARIANTS)]))


def test_the_default_run_proves_every_forward_at_the_odd_shape(golden_outputs):
    for name in GOLDEN_VARIANTS:
        assert golden_outputs(name)["input"].shape[2:] == ODD_SHAPE[2:]
    default = _first_of_each_forward(OFFICIAL_VARIANTS)
    proven = {_forward_arch(n) for n in (*GOLDEN_VARIANTS, *default)}
    assert proven == {_forward_arch(n) for n in OFFICIAL_VARIANTS}
    assert len(default) == 2  # Swin-S and Swin-B 8x7x7; Swin-T and Swin-B 16x7x7 have goldens


def test_variants_sharing_a_forward_port_the_same_backbone_bytes(synthetic_state_dict):
    """Why Swin-B Kinetics-400 22k and Kinetics-600 22k need no parity run of their own: synthetic weights
    depend only on seed, key and shape, so their backbones are Swin-B Kinetics-400 1k's, byte for byte, and
    only the head's width differs. Their own key layout, shapes and port (every key and variable accounted
    for, transforms spot-checked) are tests/test_structure.py's, which runs for every official variant."""
    base = "swin_base_patch244_window877_kinetics400_1k"
    reference = synthetic_state_dict(base)
    repeats = [n for n in OFFICIAL_VARIANTS if n not in DISTINCT_FORWARDS]
    assert sorted(repeats) == [
        "swin_base_patch244_window877_kinetics400_22k",
        "swin_base_patch244_window877_kinetics600_22k",
    ]
    for name in repeats:
        assert _forward_arch(name) == _forward_arch(base)
        state_dict = synthetic_state_dict(name)
        assert list(state_dict) == list(reference)  # the same keys in the same order
        for key, value in state_dict.items():
            if key.startswith("cls_head."):
                assert value.shape[1:] == reference[key].shape[1:]  # the head's width: its class count
                assert value.shape[0] == get_variant(name).num_classes
            else:
                np.testing.assert_array_equal(value, reference[key], err_msg=f"{name}: {key}")


@pytest.mark.parametrize("name", _first_of_each_forward(OFFICIAL_VARIANTS))  # mmaction2: test_mmaction2.py
def test_tf_matches_reference_on_odd_shape(name, synthetic_state_dict):
    tf_model, torch_model = _models(name, synthetic_state_dict(name))
    report = parity.compare_models(tf_model, torch_model, parity.parity_input(ODD_SHAPE))
    assert report.ok, report.format()


def test_every_stage_and_block_matches_on_tiny(synthetic_state_dict):
    tf_model, torch_model = _models(TINY, synthetic_state_dict(TINY))
    # A shape that pads every stage and clips windows in the late stages. The residual stream reaches
    # |x| ~ 10 in stage 3 (float32 spacing 9.5e-7 there), and two float32 implementations that sum in
    # different orders drift apart by ~10 such steps over 12 blocks (9.3e-6 and 1.05e-5 at the last
    # stage-3 block with one and with several MLP slices per loop step); a wrong block moves by >= 1e-3.
    report = parity.compare_models(
        tf_model, torch_model, parity.parity_input((2, 3, 12, 60, 84)), tolerance=2e-5, intermediates=True
    )
    names = [r.name for r in report.rows]
    assert names[0] == "backbone.patch_embed"
    assert "backbone.layers.2.blocks.5" in names and names[-1] == "logits"
    assert report.ok, report.format()


def test_parity_report_names_first_diverging_block(synthetic_state_dict):
    tf_model, torch_model = _models(TINY, synthetic_state_dict(TINY))
    var = tf_model.backbone.layers[1].blocks[1].mlp.fc2.bias
    var.assign(var.numpy() + 1e-2)
    report = parity.compare_models(
        tf_model, torch_model, parity.parity_input((1, 3, 6, 40, 40)), tolerance=1e-5, intermediates=True
    )
    assert not report.ok
    assert report.first_failure.name == "backbone.layers.1.blocks.1"


@pytest.mark.slow
@pytest.mark.parametrize("name", DISTINCT_FORWARDS)
def test_tf_matches_reference_on_full_clip(name, synthetic_state_dict):
    tf_model, torch_model = _models(name, synthetic_state_dict(name))
    report = parity.compare_models(tf_model, torch_model, parity.parity_input((1, 3, 32, 224, 224)))
    assert report.ok, report.format()
