"""Reduced-precision compute: bfloat16 / float16 matmuls, float32 where it matters, drift within bounds."""

from __future__ import annotations

import dataclasses
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin import Recognizer3D, VideoSwinConfig, build_model, from_pretrained, load_export_model
from tf_videoswin.errors import ExportFormatError
from tf_videoswin.export import ExportMetadata
from tf_videoswin.export.model_card import render_model_card

from .conftest import TINY

#: Lowest cosine of pooled features against float32 accepted per precision (synthetic Swin-T weights
#: measure ~0.99998 for bfloat16 and ~0.9999995 for float16).
MIN_COSINE = {"bfloat16": 0.999, "float16": 0.9999}


@pytest.fixture(scope="module")
def float32_model(tiny_checkpoint):
    return from_pretrained(TINY, checkpoint=tiny_checkpoint)


SMALL = VideoSwinConfig(embed_dim=32, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8))


@pytest.mark.parametrize("attention", ["float32", "reduced"])
@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_drift_is_small_and_outputs_stay_float32(
    precision, attention, float32_model, tiny_checkpoint
):
    attention_precision = precision if attention == "reduced" else "float32"
    model = from_pretrained(
        TINY, checkpoint=tiny_checkpoint, precision=precision, attention_precision=attention_precision
    )
    block = model.backbone.layers[0].blocks[0]
    assert model.precision == precision and block.precision == precision
    assert model.attention_precision == attention_precision == block.attention_precision
    for seed, shape in enumerate([(2, 3, 8, 64, 64), (1, 3, 6, 40, 52)]):
        video = tf.constant(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
        exact, reduced = float32_model(video), model(video)
        assert {v.dtype for v in reduced.values()} == {tf.float32}
        a, b = exact["pooled"].numpy(), reduced["pooled"].numpy()
        cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cosine.min() >= MIN_COSINE[precision]
        # Not exact: reduced precision really runs (a float32 fallback would give 0 difference).
        assert 1e-5 < np.abs(a - b).max() < 0.1
        top_exact = np.argsort(-exact["logits"].numpy(), axis=1)[:, :5]
        top_reduced = np.argsort(-reduced["logits"].numpy(), axis=1)[:, :5]
        assert all(len(set(r) & set(s)) >= 4 for r, s in zip(top_exact, top_reduced, strict=True))


@pytest.mark.parametrize("attention_precision", ["float32", "bfloat16"])
def test_precision_is_part_of_the_saved_model_config(attention_precision, tmp_path):
    model = Recognizer3D(SMALL, precision="bfloat16", attention_precision=attention_precision)
    path = tmp_path / "bf16.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.precision == "bfloat16" and loaded.attention_precision == attention_precision
    video = np.random.default_rng(0).standard_normal((1, 3, 4, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(model(video)["pooled"].numpy(), loaded(video)["pooled"].numpy())


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        build_model(TINY, precision="int8")
    # Attention logits in float32, or in the model's own reduced precision; nothing else.
    for precision, attention in [("float32", "bfloat16"), ("bfloat16", "float16"), ("float16", "int8")]:
        with pytest.raises(ValueError, match="attention_precision must be one of"):
            build_model(TINY, precision=precision, attention_precision=attention)
    with pytest.raises(ValueError, match="attention_precision must be one of"):
        Recognizer3D(SMALL).with_precision("float32", "float16")


def _graph_nodes(model: Recognizer3D) -> list:
    """Every node of the model's traced forward, the window loops' bodies included."""
    graph = model._graph_call(False).get_concrete_function().graph.as_graph_def()
    return [*graph.node, *(n for f in graph.library.function for n in f.node_def)]


@pytest.mark.parametrize(
    ("precision", "attention_precision"),
    [("float32", "float32"), ("bfloat16", "float32"), ("bfloat16", "bfloat16"), ("float16", "float16")],
)
def test_attention_logits_and_softmax_run_in_the_attention_precision(precision, attention_precision):
    """The score matmul (q·kᵀ, the batch matmul with ``adj_y``) and the softmax compute in
    ``attention_precision``; the values product (probabilities × v) in ``precision``."""
    nodes = _graph_nodes(Recognizer3D(SMALL, precision=precision, attention_precision=attention_precision))
    matmuls = [n for n in nodes if n.op in ("BatchMatMulV2", "BatchMatMulV3")]

    def dtypes(transposed_b: bool) -> set[str]:
        return {
            tf.as_dtype(n.attr["T" if n.op == "BatchMatMulV2" else "Ta"].type).name
            for n in matmuls
            if n.attr["adj_y"].b == transposed_b
        }

    scores, values = dtypes(True), dtypes(False)
    softmax = {tf.as_dtype(n.attr["T"].type).name for n in nodes if n.op == "Softmax"}
    assert scores == softmax == {attention_precision}
    assert precision in values


@pytest.mark.slow  # ~1.5 min with SavedModels, ~1 min without: a bfloat16 conversion and its drift
@pytest.mark.parametrize(
    "attention_precision, formats",
    # The opt-in bf16 attention writes the weights file only: its SavedModels are proven by the
    # benchmark test (test_benchmarks.py), and a second pair here cost ~40 s of make test's budget.
    [("float32", "savedmodel,weights"), ("bfloat16", "weights")],
)
def test_convert_exports_bfloat16_and_records_its_drift(
    attention_precision, formats, tmp_path, tiny_checkpoint, float32_model, capsys
):
    from porting import convert_cli

    out = tmp_path / "exports"
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]
    bf16 = ["--precision", "bfloat16", "--attention-precision", attention_precision]
    assert convert_cli.main([*argv, *bf16, "--formats", formats]) == 0
    attention = "" if attention_precision == "float32" else ", attention logits in bfloat16"
    printed = capsys.readouterr().out
    if "savedmodel" in formats:
        assert f"bfloat16 SavedModels{attention} (lossy, not exact)" in printed
    export = out / TINY
    meta = ExportMetadata.read(export)
    assert meta.precision == "bfloat16" and meta.attention_precision == attention_precision
    assert (
        meta.precision_drift["inputs"] == 4
        and meta.precision_drift["pooled_cosine_min"] >= MIN_COSINE["bfloat16"]
    )
    assert max(meta.reload_max_abs.values()) <= 1e-6  # the files written reproduce the bf16 model
    assert "Precision: bfloat16 (lossy, not exact)" in (export / "README.md").read_text()
    # The export loads back as a bfloat16 Keras model, which the SavedModel (where written) serves.
    loaded = from_pretrained(export)
    assert loaded.precision_config == {"precision": "bfloat16", "attention_precision": attention_precision}
    video = np.random.default_rng(5).standard_normal((1, 3, 6, 40, 52)).astype(np.float32)
    logits = loaded(video)["logits"].numpy()
    if "savedmodel" in formats:
        served = tf.saved_model.load(str(export / "classifier")).signatures["serving_default"]
        np.testing.assert_allclose(logits, served(video=tf.constant(video))["logits"].numpy(), atol=1e-6)
    assert np.abs(logits - float32_model(video)["logits"].numpy()).max() > 1e-5
    # Another precision for the same checkpoint replaces the export only with --overwrite.
    assert convert_cli.main(argv) == 2
    assert "another checkpoint or precision" in capsys.readouterr().err


def test_attention_precision_is_recorded_in_the_metadata_and_read_back(tiny_export, tmp_path):
    from porting.export_plan import ExportPlan, plan_export
    from tf_videoswin import get_variant
    from tf_videoswin.export import METADATA_FILE

    meta = ExportMetadata.read(tiny_export)
    assert meta.attention_precision == "float32"
    drift = {"inputs": 4, "pooled_cosine_min": 0.9999, "logits_max_abs": 0.01}
    drift |= {"logits_top5_overlap": 1.0, "logits_top1_agreement": 1.0}
    reduced = dataclasses.replace(
        meta, precision="bfloat16", attention_precision="bfloat16", precision_drift=drift
    )
    assert ExportMetadata.from_dict(reduced.to_dict()) == reduced
    assert "and the softmax are bfloat16" in render_model_card(reduced)
    assert "the softmax and the head stay float32" in render_model_card(
        dataclasses.replace(reduced, attention_precision="float32")
    )
    with pytest.raises(ExportFormatError, match="attention_precision must be one of"):
        ExportMetadata.from_dict({**reduced.to_dict(), "precision": "float32"})
    for wrong in ("float64", "int8", "bf16"):  # a model precision the library does not build
        with pytest.raises(ExportFormatError, match="precision must be one of"):
            ExportMetadata.from_dict({**meta.to_dict(), "precision": wrong})
    # Another attention precision is another export: rewritten only with --overwrite.
    cfg, sha = get_variant(TINY), meta.source["checkpoint_sha256"]
    plan = ExportPlan(precision="bfloat16", attention_precision="bfloat16")
    assert plan_export(reduced, cfg, sha, plan, tiny_export).action == "skip"
    with pytest.raises(FileExistsError, match="another checkpoint or precision"):
        plan_export(reduced, cfg, sha, plan.replace(attention_precision="float32"), tiny_export)
    # An export loads with its own attention precision, kept unless the caller picks another.
    copy = tmp_path / TINY
    shutil.copytree(tiny_export, copy)
    (copy / METADATA_FILE).write_text(reduced.to_json())
    both = {"precision": "bfloat16", "attention_precision": "bfloat16"}
    assert load_export_model(copy).precision_config == both
    assert from_pretrained(copy).attention_precision == "bfloat16"
    assert from_pretrained(copy, attention_precision="float32").attention_precision == "float32"
    assert from_pretrained(copy, precision="float16").precision_config == {
        "precision": "float16",
        "attention_precision": "float32",
    }
