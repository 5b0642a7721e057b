"""Pure functions of the Keras model's arithmetic that parity alone would not pin down."""

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin.model import functional


@pytest.mark.parametrize(
    "slices,tokens,expected",
    [
        (16, 3136, 1),  # Swin stage 1 at 32x224x224: one frame is enough
        (16, 784, 4),  # stage 2: four frames of 28x28
        (16, 196, 16),  # stage 3: the whole clip
        (16, 49, 16),  # stage 4: the whole clip is fewer than MLP_SLICE_TOKENS
        (64, 196, 16),  # batch 4, stage 3: four steps of 16 frames
        (15, 784, 3),  # the largest divisor not above the 4 frames wanted
        (13, 784, 1),  # a prime count of slices falls back to one at a time
        (13, 196, 13),
        (0, 196, 1),  # an empty batch
    ],
)
def test_mlp_slice_group_is_the_largest_divisor_with_enough_tokens(slices, tokens, expected):
    group = int(functional.mlp_slice_group(slices, tokens))
    assert group == expected
    assert slices % group == 0


def test_mlp_slice_group_traces_with_dynamic_shapes():
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None, 8])])
    def group_of(x):
        shape = tf.shape(x)
        return functional.mlp_slice_group(shape[0] * shape[1], shape[2] * shape[3])

    assert int(group_of(tf.zeros([2, 6, 15, 21, 8]))) == 6  # 12 slices of 315 tokens: 10 wanted
    assert int(group_of(tf.zeros([1, 16, 56, 56, 8]))) == 1


def test_grouped_mlp_equals_the_mlp_of_each_token():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((2, 6, 5, 7, 8)).astype(np.float32))
    c, hidden = 8, 32
    params = functional.BlockParams(
        norm1_gamma=None,
        norm1_beta=None,
        attn=None,
        norm2_gamma=tf.constant(rng.standard_normal(c).astype(np.float32)),
        norm2_beta=tf.constant(rng.standard_normal(c).astype(np.float32)),
        fc1_kernel=tf.constant(rng.standard_normal((c, hidden)).astype(np.float32)),
        fc1_bias=tf.constant(rng.standard_normal(hidden).astype(np.float32)),
        fc2_kernel=tf.constant(rng.standard_normal((hidden, c)).astype(np.float32)),
        fc2_bias=tf.constant(rng.standard_normal(c).astype(np.float32)),
    )
    grouped = functional.mlp_of_slices(x, params)
    tokens = tf.reshape(x, [-1, c])
    expected = tf.reshape(functional.mlp(tokens, params), x.shape)
    np.testing.assert_allclose(grouped.numpy(), expected.numpy(), rtol=0, atol=1e-5)
