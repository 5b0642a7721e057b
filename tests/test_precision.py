"""Reduced-precision compute: bfloat16 / float16 matmuls, float32 where it matters, drift within bounds."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin import Recognizer3D, VideoSwinConfig, build_model, from_pretrained

from .conftest import TINY

#: Lowest cosine of pooled features against float32 accepted per precision (synthetic Swin-T weights
#: measure ~0.99998 for bfloat16 and ~0.9999995 for float16).
MIN_COSINE = {"bfloat16": 0.999, "float16": 0.9999}


@pytest.fixture(scope="module")
def float32_model(tiny_checkpoint):
    return from_pretrained(TINY, checkpoint=tiny_checkpoint)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_reduced_precision_drift_is_small_and_outputs_stay_float32(precision, float32_model, tiny_checkpoint):
    model = from_pretrained(TINY, checkpoint=tiny_checkpoint, precision=precision)
    assert model.precision == precision and model.backbone.layers[0].blocks[0].precision == precision
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


def test_precision_is_part_of_the_saved_model_config(tmp_path):
    model = Recognizer3D(
        VideoSwinConfig(embed_dim=32, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8)), precision="bfloat16"
    )
    path = tmp_path / "bf16.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.precision == "bfloat16"
    video = np.random.default_rng(0).standard_normal((1, 3, 4, 32, 32)).astype(np.float32)
    np.testing.assert_array_equal(model(video)["pooled"].numpy(), loaded(video)["pooled"].numpy())


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of"):
        build_model(TINY, precision="int8")


@pytest.mark.slow  # ~2 min: a full conversion with the bfloat16 export and its drift measurement
def test_convert_exports_bfloat16_and_records_its_drift(tmp_path, tiny_checkpoint, float32_model, capsys):
    from porting import convert
    from tf_videoswin.export import ExportMetadata

    out = tmp_path / "exports"
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]
    assert convert.main([*argv, "--precision", "bfloat16", "--formats", "savedmodel,weights"]) == 0
    assert "bfloat16 SavedModels (lossy, not exact)" in capsys.readouterr().out
    export = out / TINY
    meta = ExportMetadata.read(export)
    assert meta.precision == "bfloat16"
    assert (
        meta.precision_drift["inputs"] == 4
        and meta.precision_drift["pooled_cosine_min"] >= MIN_COSINE["bfloat16"]
    )
    assert max(meta.reload_max_abs.values()) <= 1e-6  # the SavedModels reproduce the bf16 model
    assert "Precision: bfloat16 (lossy, not exact)" in (export / "README.md").read_text()
    # The export loads back as a bfloat16 Keras model that gives the SavedModel's numbers.
    loaded = from_pretrained(export)
    assert loaded.precision == "bfloat16"
    video = np.random.default_rng(5).standard_normal((1, 3, 6, 40, 52)).astype(np.float32)
    served = tf.saved_model.load(str(export / "classifier")).signatures["serving_default"](
        video=tf.constant(video)
    )
    np.testing.assert_allclose(loaded(video)["logits"].numpy(), served["logits"].numpy(), atol=1e-6)
    assert np.abs(served["logits"].numpy() - float32_model(video)["logits"].numpy()).max() > 1e-5
    # Another precision for the same checkpoint replaces the export only with --overwrite.
    assert convert.main(argv) == 2
    assert "another checkpoint or precision" in capsys.readouterr().err
