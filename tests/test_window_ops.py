"""TF window math against the PyTorch reference (itself checked against the official goldens)."""

import numpy as np
import pytest
import tensorflow as tf
import torch

from reference_torch import window_ops as ref
from tf_videoswin.model import window_ops as ops

CASES = [
    # (feature size, window, shift): full windows, padding, clipping on each axis, shift dropped.
    ((16, 56, 56), (8, 7, 7), (4, 3, 3)),
    ((9, 18, 23), (8, 7, 7), (4, 3, 3)),
    ((9, 3, 3), (8, 7, 7), (4, 3, 3)),
    ((5, 10, 12), (8, 7, 7), (4, 3, 3)),
    ((9, 18, 23), (16, 7, 7), (8, 3, 3)),
    ((16, 7, 7), (16, 7, 7), (8, 3, 3)),
]


@pytest.mark.parametrize("size,window,shift", CASES)
def test_window_size_and_mask_match_reference(size, window, shift):
    ws, ss = ops.get_window_size(tf.constant(size), window, shift)
    rws, rss = ref.get_window_size(size, window, shift)
    assert tuple(ws.numpy()) == rws and tuple(ss.numpy()) == rss
    padded = ref.padded_size(size, rws)
    mask = ops.compute_mask(tf.constant(padded), ws, ss).numpy()
    expected = ref.compute_mask(padded, rws, rss, torch.device("cpu")).numpy()
    np.testing.assert_array_equal(mask, expected)
    assert set(np.unique(mask)) <= {0.0, -100.0}


@pytest.mark.parametrize("window", [(8, 7, 7), (16, 7, 7), (2, 3, 3)])
def test_relative_position_index_matches_reference(window):
    np.testing.assert_array_equal(
        ops.relative_position_index(window).numpy(), ref.relative_position_index(window).numpy()
    )


def test_partition_and_reverse_round_trip():
    x = np.random.default_rng(0).standard_normal((2, 8, 14, 21, 5)).astype(np.float32)
    window = (4, 7, 7)
    windows = ops.window_partition(tf.constant(x), tf.constant(window)).numpy()
    np.testing.assert_array_equal(windows, ref.window_partition(torch.from_numpy(x), window).numpy())
    back = ops.window_reverse(tf.constant(windows), tf.constant(window), tf.constant([2, 8, 14, 21]))
    np.testing.assert_array_equal(back.numpy(), x)


def test_geometry_partition_matches_pure_function():
    x = tf.random.normal([1, 9, 18, 23, 4])
    geometry = ops.window_geometry(x, (8, 7, 7), (4, 3, 3))
    padded = tf.pad(x, geometry.paddings)
    np.testing.assert_array_equal(
        ops.partition(padded, geometry).numpy(), ops.window_partition(padded, geometry.window).numpy()
    )
    assert tuple(geometry.index.shape) == (8 * 7 * 7, 8 * 7 * 7)
    np.testing.assert_array_equal(
        ops.reverse(ops.partition(padded, geometry), geometry).numpy(), padded.numpy()
    )


def test_clipped_window_uses_top_left_slice_of_full_index():
    # Upstream quirk: the index of a clipped window is the [:N, :N] block of the full one.
    geometry = ops.window_geometry(tf.zeros([1, 9, 3, 3, 4]), (8, 7, 7), (4, 3, 3))
    n = 8 * 3 * 3
    full = ref.relative_position_index((8, 7, 7)).numpy()
    np.testing.assert_array_equal(geometry.index.numpy(), full[:n, :n])
    assert not np.array_equal(full[:n, :n], ref.relative_position_index((8, 3, 3)).numpy())
