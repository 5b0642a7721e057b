"""The rule engine refuses anything that is not a one-to-one mapping, and names what is wrong."""

from collections import OrderedDict

import numpy as np
import pytest

from porting import transforms
from porting import validation as checks
from porting.rule_engine import PortingError, named_variables, port_weights
from porting.rules import RULES
from tf_videoswin import build_model, get_variant

from .conftest import STHV2, TINY


@pytest.fixture(scope="module")
def tiny_sd(synthetic_state_dict):
    return synthetic_state_dict(TINY)


def _model_snapshot(model):
    return {n: v.numpy().copy() for n, v in named_variables(model)}


def _assert_untouched(model, before):
    for n, v in named_variables(model):
        np.testing.assert_array_equal(v.numpy(), before[n])


def test_missing_key_is_listed_and_nothing_assigned(tiny_sd):
    sd = OrderedDict(tiny_sd)
    del sd["backbone.layers.2.blocks.3.mlp.fc1.bias"]
    model = build_model(TINY)
    before = _model_snapshot(model)
    with pytest.raises(
        PortingError, match=r"unassigned.*\n.*backbone\.layers\.2\.blocks\.3\.mlp\.fc1\.bias \[1536\]"
    ):
        port_weights(sd, model)
    _assert_untouched(model, before)


def test_unexpected_key_is_listed(tiny_sd):
    sd = OrderedDict(tiny_sd)
    sd["backbone.absolute_pos_embed"] = np.zeros((1, 96), np.float32)
    with pytest.raises(
        PortingError, match=r"unexpected state_dict keys.*\n\s+backbone\.absolute_pos_embed \[1, 96\]"
    ):
        port_weights(sd, build_model(TINY))


def test_shape_mismatch_is_listed(tiny_sd):
    sd = OrderedDict(tiny_sd)
    sd["cls_head.fc_cls.weight"] = np.zeros((10, 768), np.float32)
    with pytest.raises(
        PortingError,
        match=r"cls_head\.fc_cls\.weight \[10, 768\] -> cls_head\.fc_cls\.kernel expects \[768, 400\]",
    ):
        port_weights(sd, build_model(TINY))


def test_every_rule_is_used_by_an_official_checkpoint(tiny_sd):
    used = {i for key in tiny_sd for i, r in enumerate(RULES) if r.match(key)}
    assert used == set(range(len(RULES)))


def test_transforms():
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(transforms.linear_kernel(w), w.T)
    c = np.random.default_rng(0).standard_normal((8, 3, 2, 4, 4)).astype(np.float32)
    k = transforms.conv3d_kernel(c)
    assert k.shape == (2, 4, 4, 3, 8)
    assert k[1, 2, 3, 0, 5] == c[5, 0, 1, 2, 3]
    with pytest.raises(ValueError):
        transforms.linear_kernel(c)


def test_wrong_variant_names_the_lookalike(tiny_sd):
    with pytest.raises(checks.CheckpointMismatchError, match=f"not {STHV2}: it looks like {TINY}"):
        checks.check_variant(tiny_sd, get_variant(STHV2))


def test_non_finite_weights_are_named(tiny_sd):
    sd = OrderedDict(tiny_sd)
    bad = sd["backbone.norm.weight"].copy()
    bad[3] = np.nan
    sd["backbone.norm.weight"] = bad
    with pytest.raises(checks.CheckpointMismatchError, match=r"backbone\.norm\.weight \(1 NaN"):
        checks.check_finite(sd)


def test_corrupted_relative_index_is_refused(tiny_sd):
    sd = OrderedDict(tiny_sd)
    key = "backbone.layers.1.blocks.0.attn.relative_position_index"
    sd[key] = sd[key][::-1].copy()
    with pytest.raises(checks.CheckpointMismatchError, match=key.replace(".", r"\.")):
        checks.verify_relative_position_index(sd, get_variant(TINY))


MM_TINY = "swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb"


@pytest.fixture(scope="module")
def mm_tiny_sd(tiny_sd):
    """The same weights in the mmaction2 layout: only the final norm's keys are named ``norm3``."""
    return OrderedDict((k.replace("backbone.norm.", "backbone.norm3."), v) for k, v in tiny_sd.items())


def test_every_rule_is_used_by_an_mmaction2_checkpoint(mm_tiny_sd):
    assert "backbone.norm3.weight" in mm_tiny_sd and "backbone.norm.weight" not in mm_tiny_sd
    used = {i for key in mm_tiny_sd for i, r in enumerate(RULES) if r.match(key)}
    assert used == set(range(len(RULES)))


def test_norm3_is_mapped_by_a_rule_onto_the_final_norm(mm_tiny_sd, tiny_sd):
    rules = [r for r in RULES if r.match("backbone.norm3.weight")]
    assert [r.match("backbone.norm3.weight") for r in rules][:1] == ["backbone.norm.gamma"]
    assert rules[0].match("backbone.norm.weight") == "backbone.norm.gamma"  # the same rule, both layouts
    assert not any(r.match("backbone.layers.3.blocks.1.norm3.weight") for r in RULES)  # only the final one
    model = build_model(get_variant(MM_TINY))
    report = port_weights(mm_tiny_sd, model)
    # The engine saw the upstream key itself: nothing was renamed before it.
    assert ("backbone.norm3.weight", "backbone.norm.gamma", (768,)) in report.assigned
    assert ("backbone.norm3.bias", "backbone.norm.beta", (768,)) in report.assigned
    assert len(report.assigned) + len(report.ignored) == len(mm_tiny_sd)
    np.testing.assert_array_equal(model.backbone.norm.gamma.numpy(), tiny_sd["backbone.norm.weight"])


def test_both_final_norms_are_refused(tiny_sd):
    sd = OrderedDict(tiny_sd)
    sd["backbone.norm3.weight"] = sd["backbone.norm.weight"]
    sd["backbone.norm3.bias"] = sd["backbone.norm.bias"]
    with pytest.raises(PortingError, match=r"assigned twice.*\n.*backbone\.norm\.gamma"):
        port_weights(sd, build_model(TINY))
    assert checks.infer_layout(sd) is None


def test_layout_mismatch_names_the_other_layout(tiny_sd, mm_tiny_sd):
    assert (checks.infer_layout(tiny_sd), checks.infer_layout(mm_tiny_sd)) == ("official", "mmaction2")
    with pytest.raises(
        checks.CheckpointMismatchError, match=f"not {MM_TINY}: it looks like {TINY} .*official"
    ):
        checks.check_variant(tiny_sd, get_variant(MM_TINY))
    with pytest.raises(
        checks.CheckpointMismatchError, match=f"not {TINY}: it looks like {MM_TINY} .*mmaction2"
    ):
        checks.check_variant(mm_tiny_sd, get_variant(TINY))
    assert checks.candidate_variants(mm_tiny_sd) == [MM_TINY]
