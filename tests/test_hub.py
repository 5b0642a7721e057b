"""The exports are TF-Hub reusable SavedModels: hub.KerasLayer (tf_keras) and Keras 3 TFSMLayer."""

import numpy as np
import pytest
import tensorflow as tf

from .conftest import require

hub = require("tensorflow_hub", "hub")
tf_keras = require("tf_keras", "hub")


@pytest.fixture(scope="module")
def clip():
    return tf.constant(np.random.default_rng(3).standard_normal((4, 3, 4, 32, 32)).astype(np.float32))


@pytest.mark.slow  # ~25 s: a training run through hub.KerasLayer
def test_feature_extractor_fine_tunes_with_hub_keraslayer(tiny_export, clip):
    tf.random.set_seed(0)
    backbone = hub.KerasLayer(str(tiny_export / "feature_extractor"), trainable=True)
    model = tf_keras.Sequential([backbone, tf_keras.layers.Dense(3)])
    labels = tf.constant([0, 1, 2, 0])
    loss_fn = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model(clip)
    assert len(backbone.trainable_variables) == 171  # every backbone weight of Swin-T
    before = [v.numpy().copy() for v in backbone.trainable_variables]
    loss_before = float(loss_fn(labels, model(clip, training=False)))
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(clip, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    assert all(g is not None for g in grads)
    tf_keras.optimizers.SGD(learning_rate=1e-4).apply_gradients(
        zip(grads, model.trainable_variables, strict=True)
    )
    changed = sum(
        not np.array_equal(b, v.numpy()) for b, v in zip(before, backbone.trainable_variables, strict=True)
    )
    assert changed == len(before)
    assert float(loss_fn(labels, model(clip, training=False))) < loss_before


def test_feature_extractor_training_flag_is_traced(tiny_export, clip):
    loaded = tf.saved_model.load(str(tiny_export / "feature_extractor"))
    assert loaded.regularization_losses == []
    eval_a = loaded(clip, training=False).numpy()
    np.testing.assert_array_equal(eval_a, loaded(clip, training=False).numpy())  # no dropout at eval
    tf.random.set_seed(1)
    train = loaded(clip, training=True).numpy()  # stochastic depth active
    assert train.shape == eval_a.shape and not np.allclose(train, eval_a)


def test_classifier_keraslayer_equals_signature(tiny_export, clip):
    model = tf_keras.Sequential([hub.KerasLayer(str(tiny_export / "classifier"))])
    signature = tf.saved_model.load(str(tiny_export / "classifier")).signatures["serving_default"]
    expected = signature(video=clip)["logits"].numpy()
    assert np.abs(model(clip).numpy() - expected).max() <= 1e-6


def test_tfsmlayer_inside_keras3_model(tiny_export, clip):
    import keras

    layer = keras.layers.TFSMLayer(str(tiny_export / "feature_extractor"), call_endpoint="serving_default")
    inputs = keras.Input((3, None, None, None))
    pooled = layer(inputs)["pooled"]
    model = keras.Model(inputs, keras.layers.Dense(5)(pooled))
    out = model(clip)
    assert tuple(out.shape) == (4, 5)
    signature = tf.saved_model.load(str(tiny_export / "feature_extractor")).signatures["serving_default"]
    np.testing.assert_allclose(
        layer(clip)["pooled"].numpy(), signature(video=clip)["pooled"].numpy(), atol=1e-6
    )
