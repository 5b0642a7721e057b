"""Gradient checkpointing (tf.recompute_grad per Swin block) changes memory, never outputs or gradients."""

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin.config import VideoSwinConfig
from tf_videoswin.model import Recognizer3D
from tf_videoswin.model.functional import swin_block
from tf_videoswin.model.window_ops import window_geometry

# Small enough to trace in seconds; windows clip and shift as in the real models.
CONFIG = VideoSwinConfig(
    embed_dim=32,
    depths=(2, 2),
    num_heads=(1, 2),
    window_size=(4, 4, 4),
    drop_path_rate=0.0,
    head_dropout=0.0,
    num_classes=3,
)


def _grads(model, video, labels, training):
    with tf.GradientTape() as tape:
        logits = model(video, training=training)["logits"]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    return float(loss), tape.gradient(loss, model.trainable_variables)


def test_recomputed_gradients_equal_plain_gradients():
    tf.keras.utils.set_random_seed(0)
    model = Recognizer3D(CONFIG)
    video = tf.constant(np.random.default_rng(0).standard_normal((2, 3, 8, 36, 44)).astype(np.float32))
    labels = tf.constant([0, 2])
    assert not model.gradient_checkpointing  # off by default
    loss_plain, plain = _grads(model, video, labels, training=True)
    model.set_gradient_checkpointing(True)
    assert model.gradient_checkpointing
    loss_rc, recomputed = _grads(model, video, labels, training=True)
    assert loss_rc == pytest.approx(loss_plain, abs=1e-6)
    assert len(plain) == len(recomputed) == len(model.trainable_variables)
    for a, b in zip(plain, recomputed, strict=True):
        assert b is not None
        np.testing.assert_allclose(tf.convert_to_tensor(b), tf.convert_to_tensor(a), atol=1e-5, rtol=0)
    model.set_gradient_checkpointing(False)
    assert not model.gradient_checkpointing
    assert "recompute" not in str(model.get_config())  # a runtime switch, not part of the model


def test_recomputed_block_keeps_its_stochastic_depth_masks():
    """With drop path on, the recomputation must drop the same samples as the forward pass: the
    gradient through tf.recompute_grad equals the plain gradient of the block with the same seed."""
    rng = np.random.default_rng(1)
    model = Recognizer3D(CONFIG.replace(drop_path_rate=0.5))
    block = model.backbone.layers[0].blocks[1]  # shifted windows
    x = tf.constant(rng.standard_normal((4, 4, 9, 11, 32)).astype(np.float32))
    geometry = window_geometry(x, (4, 4, 4), (2, 2, 2))
    params = block.params()
    rate = tf.constant(0.5)
    seed = tf.constant([3, 4], tf.int32)

    def run(x, w):
        p = params._replace(fc1_kernel=w)
        return swin_block(x, geometry, p, rate, 1, True, True, seed)

    outs = []
    for fn in (run, tf.recompute_grad(run)):
        with tf.GradientTape() as tape:
            tape.watch([x, params.fc1_kernel])
            y = fn(x, params.fc1_kernel)
            loss = tf.reduce_sum(y * y)
        outs.append((y.numpy(), *(g.numpy() for g in tape.gradient(loss, [x, params.fc1_kernel]))))
    for a, b in zip(*outs, strict=True):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-6)
    # The seed decides the masks: some samples are dropped, and another seed drops others.
    again = swin_block(x, geometry, params, rate, 1, True, True, seed).numpy()
    np.testing.assert_array_equal(again, outs[0][0])
    other = swin_block(x, geometry, params, rate, 1, True, True, tf.constant([5, 6], tf.int32)).numpy()
    assert not np.allclose(other, again)
