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
