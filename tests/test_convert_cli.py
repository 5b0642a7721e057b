"""``porting/convert.py`` end to end on a synthetic official-layout checkpoint, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import torch

from porting import convert_cli
from tf_videoswin import load_labels
from tf_videoswin.export import METADATA_FILE

from .conftest import ROOT, STHV2, TINY


def _run(argv: list[str]) -> int:
    return convert_cli.main(argv)


def _assert_nothing_left(out: Path) -> None:
    leftovers = list(out.iterdir()) if out.exists() else []
    assert leftovers == [], f"partial export left behind: {leftovers}"


def test_export_layout_and_signatures(tiny_export):
    for kind in ("classifier", "feature_extractor"):
        assert (tiny_export / kind / "saved_model.pb").is_file()
        assert (tiny_export / kind / METADATA_FILE).is_file()
    clf = tf.saved_model.load(str(tiny_export / "classifier"))
    sig = clf.signatures["serving_default"]
    spec = sig.structured_input_signature[1]["video"]
    assert spec.shape.as_list() == [None, 3, None, None, None] and spec.dtype == tf.float32
    assert set(sig.structured_outputs) == {"logits"}
    fe = tf.saved_model.load(str(tiny_export / "feature_extractor")).signatures["serving_default"]
    assert set(fe.structured_outputs) == {"features", "pooled"}
    labels = (tiny_export / "classifier" / "assets" / "labels.txt").read_text().splitlines()
    assert labels == load_labels(TINY)


def test_graphs_are_small(tiny_export):
    """No per-shape constants or per-block graph copies: each saved_model.pb stays well under 5 MB."""
    for kind in ("classifier", "feature_extractor"):
        assert (tiny_export / kind / "saved_model.pb").stat().st_size < 5_000_000


def test_export_matches_reference_at_other_shapes(tiny_export, synthetic_state_dict):
    """The SavedModel is shape-dynamic: shapes never traced still match reference_torch."""
    from reference_torch import build_recognizer

    ref = build_recognizer(TINY)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in synthetic_state_dict(TINY).items()})
    clf = tf.saved_model.load(str(tiny_export / "classifier")).signatures["serving_default"]
    fe = tf.saved_model.load(str(tiny_export / "feature_extractor")).signatures["serving_default"]
    for shape in [(1, 3, 8, 64, 64), (2, 3, 5, 33, 47)]:
        video = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            expected = ref(torch.from_numpy(video))
        logits = clf(video=tf.constant(video))["logits"].numpy()
        features = fe(video=tf.constant(video))
        assert np.abs(logits - expected["logits"].numpy()).max() <= 1e-4
        assert np.abs(features["features"].numpy() - expected["features"].numpy()).max() <= 1e-4
        assert np.abs(features["pooled"].numpy() - expected["pooled"].numpy()).max() <= 1e-4


def test_metadata_records_what_was_measured(tiny_export, tiny_checkpoint):
    import hashlib

    meta = json.loads((tiny_export / METADATA_FILE).read_text())
    assert meta["variant"] == TINY
    assert meta["source"]["checkpoint_sha256"] == hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    outputs = meta["parity"]["outputs"]
    assert set(outputs) == {"logits", "pooled", "features"}
    assert all(0 <= v["max_abs"] <= 1e-4 for v in outputs.values())
    assert meta["labels"] == load_labels(TINY)
    card = (tiny_export / "README.md").read_text()
    assert f"{outputs['logits']['max_abs']:.3e}" in card
    assert meta["source"]["checkpoint_sha256"] in card


def test_rerun_same_checkpoint_is_idempotent(tiny_export, tiny_checkpoint, capsys):
    before = (tiny_export / "classifier" / "saved_model.pb").stat().st_mtime_ns
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(tiny_export.parent)]
    assert _run(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tiny_export / "classifier" / "saved_model.pb").stat().st_mtime_ns == before


def test_unknown_variant_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        _run(["--variant", "swin_huge_patch244", "--checkpoint", "x.pth"])
    assert exc.value.code == 2
    assert "unknown variant 'swin_huge_patch244'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags",
    [["--attention-precision", "bfloat16"], ["--precision", "float16", "--attention-precision", "bfloat16"]],
)
def test_attention_precision_other_than_float32_or_the_precision_exits_2(flags, tmp_path, capsys):
    out = tmp_path / "exports"
    with pytest.raises(SystemExit) as exc:
        _run(["--variant", TINY, "--checkpoint", "x.pth", "--output-dir", str(out), *flags])
    assert exc.value.code == 2
    assert "--attention-precision: attention_precision must be one of" in capsys.readouterr().err
    _assert_nothing_left(out)


def test_missing_checkpoint_exits_2(tmp_path, capsys):
    out = tmp_path / "out"
    assert (
        _run(["--variant", TINY, "--checkpoint", str(tmp_path / "nope.pth"), "--output-dir", str(out)]) == 2
    )
    assert "checkpoint not found" in capsys.readouterr().err
    _assert_nothing_left(out)


def test_checkpoint_of_another_variant_exits_2(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "out"
    assert _run(["--variant", STHV2, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint is not {STHV2}: it looks like {TINY}" in err
    _assert_nothing_left(out)


def test_truncated_checkpoint_exits_2(tmp_path, tiny_checkpoint, capsys):
    bad = tmp_path / "truncated.pth"
    data = tiny_checkpoint.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    assert _run(["--variant", TINY, "--checkpoint", str(bad), "--output-dir", str(out)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err
    _assert_nothing_left(out)


@pytest.mark.parametrize("edit", ["missing", "extra"])
def test_state_dict_with_missing_or_extra_key_exits_2(edit, tmp_path, synthetic_state_dict, capsys):
    sd = OrderedDict((k, torch.from_numpy(v)) for k, v in synthetic_state_dict(TINY).items())
    if edit == "missing":
        del sd["backbone.layers.3.blocks.1.attn.proj.weight"]
        expected = "backbone.layers.3.blocks.1.attn.proj.kernel [768, 768]"
    else:
        sd["cls_head.fc_extra.weight"] = torch.zeros(3, 768)
        expected = "cls_head.fc_extra.weight [3, 768]"
    path = tmp_path / f"{edit}.pth"
    torch.save({"meta": {}, "state_dict": sd}, path)
    out = tmp_path / "out"
    assert _run(["--variant", TINY, "--checkpoint", str(path), "--output-dir", str(out)]) == 2
    assert expected in capsys.readouterr().err
    _assert_nothing_left(out)


def test_existing_export_of_other_checkpoint_needs_overwrite(tmp_path, tiny_checkpoint, capsys):
    out = tmp_path / "out"
    (out / TINY).mkdir(parents=True)
    (out / TINY / METADATA_FILE).write_text(json.dumps({"upstream": {"checkpoint_sha256": "0" * 64}}))
    assert _run(["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert json.loads((out / TINY / METADATA_FILE).read_text()) == {
        "upstream": {"checkpoint_sha256": "0" * 64}
    }


def test_script_runs_from_a_shell():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "porting" / "convert.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0
    assert "--variant" in proc.stdout and "--checkpoint" in proc.stdout and TINY in proc.stdout
    proc = subprocess.run(
        [sys.executable, str(ROOT / "porting" / "convert.py"), "--variant", TINY, "--tolerance"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 2


def test_porting_convert_is_the_library_function_next_to_its_command_line():
    """``porting.convert`` is :func:`porting.pipeline.convert`, also once the command line is imported (its
    module has another name, so importing it cannot replace the function), in a fresh interpreter too."""
    import porting
    import porting.convert_cli
    import porting.pipeline
    from porting.export_plan import ExportPlan

    assert porting.convert is porting.pipeline.convert and porting.ExportPlan is ExportPlan
    assert porting.convert_cli.main is not None
    code = (
        "import porting, porting.convert_cli, porting.pipeline, sys; "
        "assert porting.convert is porting.pipeline.convert, porting.convert; "
        "assert 'porting.convert' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_notebooks_call_the_python_function_not_the_command_line():
    import nbformat

    sources = [ROOT / "notebooks" / "make_notebooks.py"]
    texts = [p.read_text(encoding="utf-8") for p in sources]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        texts.append("\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    assert not [t for t in texts if "convert.main" in t or "convert_cli" in t]
    assert sum("porting.convert(" in t for t in texts) >= 4
