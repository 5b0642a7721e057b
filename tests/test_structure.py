"""Exact structure for all six variants: keys, shapes, parameter counts, full key accounting."""

import json

import numpy as np
import pytest

from porting import validation as checks
from porting.rule_engine import named_variables, port_weights
from reference_torch import build_recognizer
from tf_videoswin import build_model, get_variant
from tf_videoswin.variants import VARIANTS

from .conftest import GOLDEN_DIR


@pytest.mark.parametrize("name", list(VARIANTS))
def test_reference_state_dict_equals_official_key_list(name, golden_gen):
    spec = json.loads((GOLDEN_DIR / "data" / f"keys_{name}.json").read_text())
    model = build_recognizer(name)
    ours = [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.state_dict().items()]
    official = [(e["key"], e["shape"], e["dtype"]) for e in spec["keys"]]
    assert ours == official
    assert sum(p.numel() for p in model.parameters()) == get_variant(name).num_parameters


@pytest.mark.parametrize("name", list(VARIANTS))
def test_port_accounts_for_every_key_and_variable(name, synthetic_state_dict):
    cfg = get_variant(name)
    state_dict = synthetic_state_dict(name)
    model = build_model(cfg)
    variables = dict(named_variables(model))
    assert sum(int(np.prod(v.shape)) for v in variables.values()) == cfg.num_parameters
    report = port_weights(state_dict, model)
    index_keys = [k for k in state_dict if k.endswith("relative_position_index")]
    assert len(report.assigned) + len(report.ignored) == len(state_dict)
    assert sorted(k for k, _ in report.ignored) == sorted(index_keys)
    assert sorted(t for _, t, _ in report.assigned) == sorted(variables)
    assert checks.verify_relative_position_index(state_dict, cfg) == len(index_keys) == sum(cfg.arch.depths)
    assert checks.candidate_variants(state_dict) == (
        [
            n
            for n, c in VARIANTS.items()
            if (c.arch.embed_dim, c.arch.depths, c.arch.window_size, c.num_classes)
            == (cfg.arch.embed_dim, cfg.arch.depths, cfg.arch.window_size, cfg.num_classes)
        ]
    )
    # Spot-check one transform per kind against the source tensor.
    qkv = state_dict["backbone.layers.0.blocks.0.attn.qkv.weight"]
    np.testing.assert_array_equal(variables["backbone.layers.0.blocks.0.attn.qkv.kernel"].numpy(), qkv.T)
    conv = state_dict["backbone.patch_embed.proj.weight"]
    np.testing.assert_array_equal(
        variables["backbone.patch_embed.proj.kernel"].numpy(), conv.transpose(2, 3, 4, 1, 0)
    )
