"""The static-shape deployment graph (``tf_videoswin.model.static_forward``, made a ``tf.function`` by
``tf_videoswin.export.deploy.signatures``): same numbers as the Keras model, and a graph every converter maps
(no loops, rank <= 6 transposes, no Roll/Erfc, no folded giant constants)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from porting.pipeline import port_checkpoint
from tf_videoswin.config import VideoSwinConfig
from tf_videoswin.errors import DeploymentError
from tf_videoswin.export.deploy import signatures
from tf_videoswin.export.deploy.targets import DeployTarget
from tf_videoswin.model import build_model, static_forward, window_ops

from .conftest import TINY


@pytest.fixture(scope="module")
def tiny_model(synthetic_state_dict):
    return port_checkpoint(TINY, synthetic_state_dict(TINY), reference=False).tf_model


def _clip(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize(
    "size, window",
    [((9, 18, 23), (8, 7, 7)), ((9, 3, 3), (8, 7, 7)), ((16, 56, 56), (8, 7, 7)), ((9, 18, 23), (16, 7, 7))],
)
def test_geometry_equals_the_dynamic_window_ops(size, window):
    """Window, shift, index slice and mask of the static geometry are the dynamic model's, bit for bit."""
    shift = tuple(w // 2 for w in window)
    dynamic = window_ops.window_geometry(tf.zeros([1, *size, 4]), window, shift)
    static = static_forward.stage_geometry(size, window)
    assert static.window == tuple(dynamic.window.numpy())
    assert static.shift == tuple(dynamic.shift.numpy())
    assert static.padded == tuple(dynamic.padded_shape.numpy()[1:4])
    np.testing.assert_array_equal(static.index, dynamic.index.numpy())
    mask = static_forward.shift_mask(static.padded, static.window, static.shift)
    np.testing.assert_array_equal(mask, dynamic.mask.numpy())
    assert static.has_shift == bool(np.any(mask))


@pytest.mark.parametrize(
    "shape",
    [
        (2, 3, 18, 70, 90),  # patch and window padding, clipped windows, odd PatchMerging, full masks
        (3, 3, 5, 33, 47),  # every stage clipped in T; batch 3
    ],
)
def test_deploy_forward_equals_keras_model(tiny_model, shape):
    video = _clip(shape)
    expected = tiny_model(tf.constant(video), training=False)
    actual = signatures.deploy_function(tiny_model, shape)(tf.constant(video))
    assert set(actual) == {"logits", "features", "pooled"}
    for name in actual:
        assert actual[name].shape == expected[name].shape
        assert np.abs(actual[name].numpy() - expected[name].numpy()).max() <= 1e-5, name


def test_dynamic_batch_and_kinds(tiny_model):
    fn = signatures.deploy_function(tiny_model, (1, 3, 8, 64, 64), dynamic_batch=True)
    assert fn.input_signature[0].shape.as_list() == [None, 3, 8, 64, 64]
    for batch in (1, 3):
        video = _clip((batch, 3, 8, 64, 64), seed=batch)
        expected = tiny_model(tf.constant(video), training=False)["logits"].numpy()
        assert np.abs(fn(tf.constant(video))["logits"].numpy() - expected).max() <= 1e-5
    features = signatures.deploy_function(tiny_model, (1, 3, 8, 64, 64), kind="feature_extractor")
    assert set(features(tf.constant(_clip((1, 3, 8, 64, 64))))) == {"features", "pooled"}


def test_weights_as_inputs_cover_every_variable_once(tiny_model):
    """The weight-input form reads each variable once, by its official-style name, and computes the same."""
    shape = (1, 3, 8, 64, 64)
    fn, named = signatures.deploy_function_with_weight_inputs(tiny_model, shape)
    weights = tiny_model.trainable_variables  # (the head's dropout also holds a seed-state variable)
    assert len(named) == len(weights) == len({name for name, _ in named})
    assert {id(v) for _, v in named} == {id(v) for v in weights}
    assert dict(named)["backbone.layers.0.blocks.1.attn.qkv.kernel"] is (
        tiny_model.backbone.layers[0].blocks[1].attn.qkv.kernel
    )
    video = tf.constant(_clip(shape))
    out = fn(video, *[tf.convert_to_tensor(v) for _, v in named])
    expected = signatures.deploy_function(tiny_model, shape)(video)
    for name in expected:
        np.testing.assert_array_equal(out[name].numpy(), expected[name].numpy())
    backbone_only = signatures.weights_used(tiny_model, shape, kind="feature_extractor")
    assert len(backbone_only) == len(tiny_model.backbone.trainable_variables)


def test_graph_is_converter_friendly(tiny_model):
    """No loops or TensorLists, no Roll or Erfc, and no transpose above rank 6 (TFLite's limit)."""
    graph = signatures.deploy_function(tiny_model, (2, 3, 18, 70, 90)).get_concrete_function().graph
    ops = {op.type for op in graph.get_operations()}
    forbidden = {"While", "StatelessWhile", "Roll", "Erfc"} | {
        op for op in ops if op.startswith("TensorList")
    }
    assert not ops & forbidden
    assert "Erf" in ops  # exact GELU in its converter-friendly form
    transposes = [op for op in graph.get_operations() if op.type == "Transpose"]
    assert transposes and all(op.inputs[0].shape.rank <= 6 for op in transposes)


def test_stage_sizes():
    # 18x70x90 with 2x4x4 patches: 9 x ceil(70/4) x ceil(90/4), then H and W halved (rounded up).
    assert static_forward.stage_sizes((2, 3, 18, 70, 90), (2, 4, 4), 4) == [
        (9, 18, 23),
        (9, 9, 12),
        (9, 5, 6),
        (9, 3, 3),
    ]


def test_bad_clip_shapes_are_refused(tiny_model):
    for shape in [(1, 3, 8, 64), (1, 4, 8, 64, 64), (1, 3, 0, 64, 64), (0, 3, 8, 64, 64)]:
        with pytest.raises(ValueError):
            signatures.deploy_function(tiny_model, shape)


def test_roll_equals_tf_roll():
    x = tf.reshape(tf.range(2 * 5 * 6 * 7, dtype=tf.float32), [2, 5, 6, 7])
    for shifts in [(-2, -3, 1), (4, 0, -7), (0, 0, 0)]:
        expected = tf.roll(x, shift=list(shifts), axis=[1, 2, 3])
        np.testing.assert_array_equal(static_forward.roll(x, shifts, (1, 2, 3)).numpy(), expected.numpy())


def test_gelu_equals_exact_gelu():
    x = tf.constant(np.linspace(-8, 8, 2001, dtype=np.float32))
    assert np.abs(static_forward.gelu(x).numpy() - tf.nn.gelu(x, approximate=False).numpy()).max() <= 1e-6


def test_tflite_file_stores_weights_not_expanded_bias_and_masks():
    """The (nH, N, N) biases and (nW, N, N) shift masks are computed at run time: the file is the size
    of the weights (the folded version of this model at this shape is ~10x larger)."""
    from tf_videoswin.export.deploy.tflite_file import convert_tflite

    config = VideoSwinConfig(embed_dim=16, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2), num_classes=4)
    model = build_model(config)
    weights = sum(int(np.prod(v.shape)) for v in model.variables) * 4
    shape = (1, 3, 16, 112, 112)  # stage 1 is 8x28x28: 16 windows of 392 tokens, shifted
    data, ops = convert_tflite(model, DeployTarget("tflite", "classifier", "float32", shape))
    index_bytes = 392 * 392 * 4 + 16 * 392 * 4  # the relative-position index and the region labels
    assert len(data) < weights + 2 * index_bytes + 200_000
    assert "GATHER" in ops and not [op for op in ops if op.startswith("CUSTOM")]


def test_flex_ops_are_refused():
    """A TFLite file that needs Select-TF (Flex) ops is refused, whoever made it."""
    from tf_videoswin.export.deploy.tflite_file import check_builtin_only, tflite_operators

    @tf.function(input_signature=[tf.TensorSpec([4], tf.float32)])
    def erf_only(x):
        return tf.math.erf(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([erf_only.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    data = converter.convert()
    assert "CUSTOM:FlexErf" in tflite_operators(data)
    with pytest.raises(DeploymentError, match="FlexErf"):
        check_builtin_only(data)
