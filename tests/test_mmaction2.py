"""mmaction2 1.x checkpoints on synthetic weights in the mmaction2 layout: Swin-L and Swin-S K710 at a small
clip (every key mapped, TF = reference_torch, wrong-variant refusals), and the apps on an mmaction2 export.

Swin-L has ~197 M parameters (~800 MB in float32): it is built once for its class and freed afterwards.
"""

from __future__ import annotations

import gc
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

from porting import check_parity, convert_cli, parity
from porting import validation as checks
from porting.checkpoint import load_state_dict, to_numpy
from porting.pipeline import port_checkpoint
from porting.rule_engine import named_variables
from porting.synthetic import synthetic_state_dict, write_synthetic_checkpoint
from reference_torch import build_recognizer
from tf_videoswin import from_pretrained, get_variant, load_labels, predict
from tf_videoswin.export import METADATA_FILE

from .conftest import TINY
from .videos import write_video

L400 = "swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb"
L700 = "swin-large-p244-w877_in22k-pre_16xb8-amp-32x2x1-30e_kinetics700-rgb"
S400 = "swin-small-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb"
S710 = "swin-small-p244-w877_in1k-pre_32xb4-amp-32x2x1-30e_kinetics710-rgb"
MM_TINY = "swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb"
OFFICIAL_SMALL = "swin_small_patch244_window877_kinetics400_1k"
OFFICIAL_BASE = "swin_base_patch244_window877_kinetics400_1k"
#: Small clip: pads (64 -> 64/32 = 2 after patching and merging) and clips windows in every late stage.
CLIP = (1, 3, 8, 64, 64)
TOLERANCE = 1e-4


def _free() -> None:
    import keras

    keras.backend.clear_session()
    gc.collect()


def _assert_every_key_accounted(ported, state_dict) -> None:
    report, cfg = ported.report, ported.variant
    variables = dict(named_variables(ported.tf_model))
    index_keys = sorted(k for k in state_dict if k.endswith("relative_position_index"))
    assert len(report.assigned) + len(report.ignored) == len(state_dict)
    assert sorted(k for k, _ in report.ignored) == index_keys and len(index_keys) == sum(cfg.arch.depths)
    assert sorted(t for _, t, _ in report.assigned) == sorted(variables)
    assert sum(int(np.prod(v.shape)) for v in variables.values()) == cfg.num_parameters
    assert ("backbone.norm3.weight", "backbone.norm.gamma", (cfg.num_features,)) in report.assigned
    assert "backbone.norm.weight" not in state_dict


def _assert_parity(ported) -> None:
    report = parity.compare_models(ported.tf_model, ported.reference, parity.parity_input(CLIP), TOLERANCE)
    assert report.ok, report.format()
    assert {r.name for r in report.rows} == {"logits", "pooled", "features"}


@pytest.fixture(scope="class")
def swin_l():
    """Swin-L K400 in the mmaction2 layout, ported once (Keras + strictly loaded reference) for its class."""
    state_dict = to_numpy(synthetic_state_dict(L400, seed=0))
    ported = port_checkpoint(L400, state_dict)  # reference_torch loads it with strict=True
    yield state_dict, ported
    del state_dict, ported
    _free()


@pytest.fixture(scope="class")
def swin_s_k710(tmp_path_factory):
    """Swin-S K710 through a file: its mmengine-style meta (numpy values) loads without trust."""
    path = write_synthetic_checkpoint(S710, tmp_path_factory.mktemp("k710") / "k710.pth", seed=1)
    state_dict = load_state_dict(path)
    ported = port_checkpoint(S710, path)
    yield path, state_dict, ported
    path.unlink()
    del state_dict, ported
    _free()


class TestSwinLarge:
    def test_every_key_is_mapped(self, swin_l):
        state_dict, ported = swin_l
        _assert_every_key_accounted(ported, state_dict)
        assert ported.tf_model.backbone.num_features == 1536 and ported.variant.num_parameters == 196_953_916

    def test_tf_equals_reference_torch(self, swin_l):
        _assert_parity(swin_l[1])

    def test_offered_as_another_variant_is_refused_with_its_name(self, swin_l):
        state_dict, _ = swin_l
        for wrong in (L700, OFFICIAL_BASE, S400):
            with pytest.raises(checks.CheckpointMismatchError, match=f"not {wrong}: it looks like {L400} "):
                checks.check_variant(state_dict, get_variant(wrong))
        assert checks.candidate_variants(state_dict) == [L400]

    def test_official_layout_of_swin_l_is_no_known_variant(self, swin_l):
        state_dict, _ = swin_l
        renamed = {k.replace("backbone.norm3.", "backbone.norm."): v for k, v in state_dict.items()}
        with pytest.raises(
            checks.CheckpointMismatchError, match=r"matches no known variant.*layout=official"
        ):
            checks.check_variant(renamed, get_variant(L400))

    def test_reference_needs_the_mmaction2_layout_for_a_strict_load(self, swin_l):
        state_dict, _ = swin_l
        with torch.device("meta"):  # keys only, no memory
            official = build_recognizer(L400, layout="official")
        meta_sd = {k: torch.empty(v.shape, dtype=torch.float32, device="meta") for k, v in state_dict.items()}
        with pytest.raises(RuntimeError, match=r"(?s)Missing key.*backbone\.norm\.weight.*Unexpected.*norm3"):
            official.load_state_dict(meta_sd, strict=True)


class TestKinetics710:
    def test_every_key_is_mapped(self, swin_s_k710):
        _, state_dict, ported = swin_s_k710
        _assert_every_key_accounted(ported, state_dict)
        assert state_dict["cls_head.fc_cls.weight"].shape == (710, 768)

    def test_tf_equals_reference_torch(self, swin_s_k710):
        _assert_parity(swin_s_k710[2])

    def test_offered_as_another_variant_is_refused_with_its_name(self, swin_s_k710):
        _, state_dict, _ = swin_s_k710
        for wrong in (S400, OFFICIAL_SMALL, L700):
            with pytest.raises(checks.CheckpointMismatchError, match=f"not {wrong}: it looks like {S710} "):
                checks.check_variant(state_dict, get_variant(wrong))

    def test_convert_refuses_it_as_kinetics400_and_names_it(self, swin_s_k710, tmp_path, capsys):
        path = swin_s_k710[0]
        out = tmp_path / "out"
        assert convert_cli.main(["--variant", S400, "--checkpoint", str(path), "--output-dir", str(out)]) == 2
        assert f"it looks like {S710}" in capsys.readouterr().err
        assert not out.exists() or list(out.iterdir()) == []

    def test_labels(self):
        labels = load_labels(S710)
        assert len(labels) == len(set(labels)) == 710


# ---------------------------------------------------------------- the apps on an mmaction2 export (Swin-T)


@pytest.fixture(scope="module")
def mm_tiny_checkpoint(tmp_path_factory) -> Path:
    return write_synthetic_checkpoint(MM_TINY, tmp_path_factory.mktemp("mm_tiny") / "mm_tiny.pth")


@pytest.fixture(scope="module")
def mm_tiny_export(tmp_path_factory, mm_tiny_checkpoint) -> Path:
    out = tmp_path_factory.mktemp("mm_exports")
    argv = ["--variant", MM_TINY, "--checkpoint", str(mm_tiny_checkpoint), "--output-dir", str(out)]
    assert convert_cli.main(argv) == 0
    return out / MM_TINY


@pytest.mark.slow  # the mmaction2 Swin-T conversion of `mm_tiny_export`, ~40 s, is built for these four
def test_export_metadata_and_card_say_mmaction2(mm_tiny_export):
    cfg = get_variant(MM_TINY)
    meta = json.loads((mm_tiny_export / METADATA_FILE).read_text())
    assert meta["variant"] == MM_TINY and meta["source"]["layout"] == "mmaction2"
    assert meta["source"]["repository"] == "https://github.com/open-mmlab/mmaction2"
    assert meta["source"]["checkpoint_url"] == cfg.url
    assert meta["source"]["published_sha256_prefix"] == "241016b2"
    assert meta["accuracy"] == {"top1": 78.90, "top5": 93.77, "source": cfg.accuracy_source}
    assert meta["preprocessing"]["clip_starts"] == "evenly_spaced"
    assert meta["preprocessing"]["normalization"] == "divide_by_std"
    assert meta["input"]["normalization"]["float32"] == "(x - mean) / std"
    assert all(v["max_abs"] <= TOLERANCE for v in meta["parity"]["outputs"].values())
    card = (mm_tiny_export / "README.md").read_text()
    assert "## Accuracy (from mmaction2 re-test" in card and "open-mmlab/mmaction2" in card
    assert "clip starts evenly spaced as in mmaction2 1.x" in card
    assert "`241016b2`; this checkpoint does NOT have it" in card  # random weights, not the published file
    labels = (mm_tiny_export / "classifier" / "assets" / "labels.txt").read_text().splitlines()
    assert labels == load_labels(MM_TINY)


@pytest.mark.slow  # uses `mm_tiny_export`
def test_check_parity_on_the_export(mm_tiny_export, mm_tiny_checkpoint, capsys):
    argv = [
        "--export",
        str(mm_tiny_export),
        "--checkpoint",
        str(mm_tiny_checkpoint),
        "--shape",
        "1,3,6,40,52",
    ]
    assert check_parity.main(argv) == 0
    assert f"parity ok for {MM_TINY}" in capsys.readouterr().out


@pytest.mark.slow  # uses `mm_tiny_export`
def test_convert_all_finds_the_upstream_file_name(mm_tiny_export, mm_tiny_checkpoint, tmp_path, capsys):
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / Path(get_variant(MM_TINY).url).name).symlink_to(mm_tiny_checkpoint)  # <name>_<date>-<sha>.pth
    assert convert_cli.main(["--all", str(ckpts), "--output-dir", str(mm_tiny_export.parent)]) == 0
    out = capsys.readouterr().out
    assert f"{MM_TINY} up to date" in " ".join(out.split())


def test_official_checkpoint_offered_as_mmaction2_is_refused(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        convert_cli.main(
            ["--variant", MM_TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]
        )
        == 2
    )
    assert f"checkpoint is not {MM_TINY}: it looks like {TINY}" in capsys.readouterr().err


@pytest.mark.slow  # uses `mm_tiny_export`
def test_from_pretrained_and_predict(mm_tiny_export, mm_tiny_checkpoint, tmp_path, capsys):
    model = from_pretrained(MM_TINY, checkpoint=mm_tiny_checkpoint, verify=True)  # parity vs reference_torch
    assert model.config == get_variant(MM_TINY).arch
    clip = write_video(tmp_path / "clip.mp4", frames=40, height=48, width=64)
    argv = [
        str(clip),
        "--model",
        str(mm_tiny_export / "classifier"),
        "--views",
        "single",
        "--json",
        "--no-progress",
    ]
    assert predict.main(argv) == 0
    top = json.loads(capsys.readouterr().out)["results"][0]["top_k"]
    assert all(t["label"] in load_labels(MM_TINY) for t in top)


def test_synthetic_layouts_share_weights():
    official = synthetic_state_dict(TINY, seed=3, layout="official")
    mm = synthetic_state_dict(TINY, seed=3, layout="mmaction2")
    assert list(mm) == [k.replace("backbone.norm.", "backbone.norm3.") for k in official]
    assert all(torch.equal(official[k], mm[k.replace("backbone.norm.", "backbone.norm3.")]) for k in official)
    assert isinstance(official, OrderedDict)
