"""Exact structure for the official variants (keys, shapes, parameter counts, full key accounting), and the
mmaction2 layout of the same architectures derived from the official key lists."""

import json

import numpy as np
import pytest

from porting import validation as checks
from porting.rule_engine import named_variables, port_weights
from reference_torch import build_recognizer
from tf_videoswin import build_model, get_variant
from tf_videoswin.variants import MMACTION2_VARIANTS, OFFICIAL_VARIANTS, VARIANTS

from .conftest import GOLDEN_DIR


@pytest.mark.parametrize("name", list(OFFICIAL_VARIANTS))
def test_reference_state_dict_equals_official_key_list(name, golden_gen):
    spec = json.loads((GOLDEN_DIR / "data" / f"keys_{name}.json").read_text())
    model = build_recognizer(name)
    ours = [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.state_dict().items()]
    official = [(e["key"], e["shape"], e["dtype"]) for e in spec["keys"]]
    assert ours == official
    assert sum(p.numel() for p in model.parameters()) == get_variant(name).num_parameters


@pytest.mark.parametrize("name", list(OFFICIAL_VARIANTS))
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
            if (c.arch.embed_dim, c.arch.depths, c.arch.window_size, c.num_classes, c.layout)
            == (cfg.arch.embed_dim, cfg.arch.depths, cfg.arch.window_size, cfg.num_classes, cfg.layout)
        ]
    )
    # Spot-check one transform per kind against the source tensor.
    qkv = state_dict["backbone.layers.0.blocks.0.attn.qkv.weight"]
    np.testing.assert_array_equal(variables["backbone.layers.0.blocks.0.attn.qkv.kernel"].numpy(), qkv.T)
    conv = state_dict["backbone.patch_embed.proj.weight"]
    np.testing.assert_array_equal(
        variables["backbone.patch_embed.proj.kernel"].numpy(), conv.transpose(2, 3, 4, 1, 0)
    )


# mmaction2 checkpoints whose architecture has an official key list: the same keys, shapes, dtypes and
# order with the final norm named ``norm3`` (mmaction/models/backbones/swin.py, out_indices=(3,)).
_SAME_ARCH = {
    mm: official
    for mm, official in zip(MMACTION2_VARIANTS[:3], OFFICIAL_VARIANTS[:3], strict=True)  # T, S, B (K400 1k)
}


@pytest.mark.parametrize("name", list(_SAME_ARCH))
def test_reference_in_mmaction2_layout_renames_only_the_final_norm(name, golden_gen):
    spec = json.loads((GOLDEN_DIR / "data" / f"keys_{_SAME_ARCH[name]}.json").read_text())
    rename = {"backbone.norm.weight": "backbone.norm3.weight", "backbone.norm.bias": "backbone.norm3.bias"}
    expected = [(rename.get(e["key"], e["key"]), e["shape"], e["dtype"]) for e in spec["keys"]]
    model = build_recognizer(name)  # the variant's own layout: mmaction2
    ours = [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in model.state_dict().items()]
    assert ours == expected
    assert sum(p.numel() for p in model.parameters()) == get_variant(name).num_parameters
    # The layout is a constructor option: the official layout of the same architecture is the official list.
    official = build_recognizer(name, layout="official").state_dict()
    assert [k for k in official] == [e["key"] for e in spec["keys"]]


def test_mmaction2_pairs_share_an_architecture():
    for mm, official in _SAME_ARCH.items():
        assert get_variant(mm).arch.replace(drop_path_rate=0) == get_variant(official).arch.replace(
            drop_path_rate=0
        )


_NO_TENSORFLOW = """
import importlib.abc, importlib.machinery, sys
import numpy as np

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "torch"):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked in this test process)")

sys.meta_path.insert(0, Blocked())
from porting import validation
from tf_videoswin import get_variant

cfg = get_variant(sys.argv[2])
state_dict = dict(np.load(sys.argv[1]))
validation.check_variant(state_dict, cfg)
validation.check_finite(state_dict)
print(validation.verify_relative_position_index(state_dict, cfg))
key = next(k for k in state_dict if k.endswith("relative_position_index"))
state_dict[key] = state_dict[key][::-1].copy()
try:
    validation.verify_relative_position_index(state_dict, cfg)
except validation.CheckpointMismatchError as e:
    print("refused:", e)
print(sorted(m for m in ("tensorflow", "keras", "torch") if m in sys.modules))
"""


@pytest.mark.parametrize(
    "name", ["swin_tiny_patch244_window877_kinetics400_1k", "swin_base_patch244_window1677_sthv2"]
)
def test_checkpoint_checks_use_the_numpy_geometry_and_import_no_tensorflow(
    name, synthetic_state_dict, tmp_path
):
    """The architecture, value and relative-position-index checks run where TensorFlow, Keras and torch cannot
    be imported: the index is compared with :func:`tf_videoswin.geometry.relative_position_index`."""
    import subprocess
    import sys

    from .conftest import ROOT

    path = tmp_path / "state_dict.npz"
    np.savez(path, **{k: np.asarray(v) for k, v in synthetic_state_dict(name).items()})
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TENSORFLOW, str(path), name],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    count, refused, imported = proc.stdout.splitlines()
    assert int(count) == sum(get_variant(name).arch.depths)
    assert refused.startswith("refused:") and "relative_position_index" in refused
    assert imported == "[]"
