"""Shifted blocks attend the last window row in T as two half windows (time_split_window_attention):
the same numbers as upstream's full masked attention, less work, and every clip size still served."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin.model import functional, window_ops

from .test_functional import _reference_window_attention


def _params(rng: np.random.Generator, window: tuple[int, int, int], channels: int, heads: int):
    table = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
    shapes = [(table, heads), (channels, 3 * channels), (3 * channels,), (channels, channels), (channels,)]
    return functional.AttentionParams(*(rng.standard_normal(s) * 0.5 for s in shapes))


def _upstream_shifted_attention(rolled: tf.Tensor, geometry, params, heads: int) -> np.ndarray:
    """Upstream's SW-MSA of a rolled padded map: every window whole, with the full shift mask."""
    windows = window_ops.partition(rolled, geometry).numpy().astype(np.float64)
    out = _reference_window_attention(windows, geometry.index.numpy(), geometry.mask.numpy(), params, heads)
    return window_ops.reverse(tf.constant(out), geometry).numpy()


CASES = {
    # batch, (D, H, W) before padding, window, whether T splits
    "padded, two clips": (2, (12, 12, 20), (8, 7, 7), True),
    "H and W clipped (upstream's [:N,:N] index)": (1, (16, 5, 6), (8, 7, 7), True),
    "window 16x7x7 (sthv2)": (1, (32, 7, 14), (16, 7, 7), True),
    "T clipped: no shift in T": (1, (8, 14, 14), (8, 7, 7), False),
    "odd window in T": (1, (15, 14, 14), (5, 7, 7), False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_time_split_equals_upstream_masked_attention(case, monkeypatch):
    batch, size, window, splits = CASES[case]
    rng = np.random.default_rng(7)
    channels, heads = 8, 2
    params = _params(rng, window, channels, heads)
    x = tf.constant(rng.standard_normal((batch, *size, channels)), tf.float32)
    geometry = window_ops.window_geometry(x, window, tuple(w // 2 for w in window))
    assert bool(geometry.time_split) == splits
    rolled = tf.roll(tf.pad(x, geometry.paddings), shift=-geometry.shift, axis=[1, 2, 3])

    tokens_attended = []
    attend = functional.window_attention

    def recording(windows, *args, **kwargs):
        tokens_attended.append((int(tf.shape(windows)[0]), int(tf.shape(windows)[1])))
        return attend(windows, *args, **kwargs)

    monkeypatch.setattr(functional, "window_attention", recording)
    as32 = functional.AttentionParams(*(tf.constant(p, tf.float32) for p in params))
    ours = functional.time_split_window_attention(rolled, geometry, as32, heads)

    expected = _upstream_shifted_attention(rolled, geometry, params, heads)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=2e-5)
    n = int(tf.reduce_prod(geometry.window))
    row = int(tf.reduce_prod(geometry.padded_shape[2:4] // geometry.window[1:]))
    if splits:  # the last row in T: twice as many windows of half the tokens
        whole = int(tf.shape(geometry.mask)[0]) - row
        assert tokens_attended == [(batch * whole, n), (2 * batch * row, n // 2)]
    else:
        assert tokens_attended[0] == (batch * int(tf.shape(geometry.mask)[0]), n)
        assert tokens_attended[1][0] == 0


def test_half_windows_take_the_diagonal_blocks_of_index_and_mask():
    x = tf.zeros([1, 16, 12, 20, 4])
    geometry = window_ops.window_geometry(x, (8, 7, 7), (4, 3, 3))
    n, half = 8 * 7 * 7, 8 * 7 * 7 // 2
    index, mask = geometry.index.numpy(), geometry.mask.numpy()
    np.testing.assert_array_equal(geometry.half_index[0].numpy(), index[:half, :half])
    np.testing.assert_array_equal(geometry.half_index[1].numpy(), index[half:, half:])
    row = (14 // 7) * (21 // 7)
    last_row = mask[-row:]
    np.testing.assert_array_equal(geometry.half_mask.numpy(), last_row[:, :half, :half])
    np.testing.assert_array_equal(geometry.whole_mask.numpy(), mask[:-row])
    # Within the last row the two halves are different regions in T and see each other only masked ...
    assert (last_row[:, :half, half:] == -100).all() and (last_row[:, half:, :half] == -100).all()
    # ... and each half has the same spatial regions, so one half mask serves both.
    np.testing.assert_array_equal(last_row[:, :half, :half], last_row[:, half:, half:])
    assert geometry.mask.shape[-1] == n


def test_time_split_in_a_graph_traced_for_any_clip_size():
    """One traced graph serves clips with and without a shift in T (no tf.cond; empty loops)."""
    rng = np.random.default_rng(3)
    window, channels, heads = (8, 7, 7), 8, 2
    params = _params(rng, window, channels, heads)
    as32 = functional.AttentionParams(*(tf.constant(p, tf.float32) for p in params))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None, channels], tf.float32)])
    def attend(x):
        geometry = window_ops.window_geometry(x, window, (4, 3, 3))
        rolled = tf.roll(tf.pad(x, geometry.paddings), shift=-geometry.shift, axis=[1, 2, 3])
        return functional.time_split_window_attention(rolled, geometry, as32, heads)

    for size in [(16, 7, 7), (6, 9, 7), (20, 3, 8)]:
        x = tf.constant(rng.standard_normal((1, *size, channels)), tf.float32)
        geometry = window_ops.window_geometry(x, window, (4, 3, 3))
        rolled = tf.roll(tf.pad(x, geometry.paddings), shift=-geometry.shift, axis=[1, 2, 3])
        expected = _upstream_shifted_attention(rolled, geometry, params, heads)
        np.testing.assert_allclose(attend(x).numpy(), expected, rtol=0, atol=2e-5)
    graph = attend.get_concrete_function().graph
    assert not {"If", "StatelessIf"} & {op.type for op in graph.get_operations()}
    # The scalars of the geometry's (D, H, W) sizes and split shapes come from Unpack ops
    # (window_ops.axes3): a slice per scalar made traced graphs ~25% larger and their tracing
    # ~0.5 s slower for Swin-T.
    scalar_slices = [
        op.name
        for op in graph.get_operations()
        if op.type == "StridedSlice"
        and op.get_attr("shrink_axis_mask")
        and op.inputs[0].shape.as_list() in ([3], [8])
        and op.inputs[0].op.type != "Shape"
    ]
    assert scalar_slices == []


def test_loop_over_steps_concatenates_steps_and_allows_none():
    steps = tf.reshape(tf.range(24, dtype=tf.float32), [4, 2, 3])
    out = functional.loop_over_steps(lambda s, i: s * tf.cast(i + 1, s.dtype), steps)
    expected = (steps * tf.reshape(tf.range(1.0, 5.0), [4, 1, 1])).numpy().reshape(8, 3)
    np.testing.assert_array_equal(out.numpy(), expected)
    empty = tf.function(lambda s: functional.loop_over_steps(lambda x, _: x * 2, s))
    assert empty(tf.zeros([0, 5, 3])).shape == (0, 3)  # tf.map_fn fails here


def test_loop_over_steps_has_the_gradient_of_its_steps():
    x = tf.constant(np.random.default_rng(0).standard_normal((3, 4, 2)), tf.float32)
    scale = tf.reshape(tf.range(1.0, 4.0), [3, 1, 1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(
            tf.function(functional.loop_over_steps)(lambda s, i: s * tf.cast(i + 1, s.dtype), x) ** 2
        )
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), (2 * x * scale**2).numpy(), rtol=1e-6)


@pytest.mark.parametrize("case", list(CASES))
def test_keras_ops_half_windows_equal_upstream_masked_attention(case, monkeypatch):
    """The keras.ops forward (JAX, PyTorch) splits the same rows, from the NumPy geometry; run here on
    TensorFlow tensors, which keras.ops takes too."""
    from tf_videoswin.geometry import stage_geometry
    from tf_videoswin.model import ops_forward
    from tf_videoswin.model.layers.window_attention import WindowAttention3D

    batch, size, window, splits = CASES[case]
    rng = np.random.default_rng(11)
    channels, heads = 8, 2
    params = _params(rng, window, channels, heads)
    layer = WindowAttention3D(channels, window, heads)
    table, qkv_kernel, qkv_bias, proj_kernel, proj_bias = params
    layer.relative_position_bias_table.assign(table)
    layer.qkv.kernel.assign(qkv_kernel)
    layer.qkv.bias.assign(qkv_bias)
    layer.proj.kernel.assign(proj_kernel)
    layer.proj.bias.assign(proj_bias)
    x = tf.constant(rng.standard_normal((batch, *size, channels)), tf.float32)
    tf_geometry = window_ops.window_geometry(x, window, tuple(w // 2 for w in window))
    geometry = stage_geometry(size, window)
    assert geometry.time_split == splits
    rolled = tf.roll(tf.pad(x, tf_geometry.paddings), shift=-tf_geometry.shift, axis=[1, 2, 3])

    attended = []
    attend = ops_forward.window_attention

    def recording(windows, attn, bias, mask, *args):
        attended.append((int(windows.shape[0]), bias.shape[-1], None if mask is None else int(mask.shape[0])))
        return attend(windows, attn, bias, mask, *args)

    monkeypatch.setattr(ops_forward, "window_attention", recording)
    ours = ops_forward.shifted_window_attention(rolled, layer, geometry, ops_forward.shift_masks(geometry))
    expected = _upstream_shifted_attention(rolled, tf_geometry, params, heads)
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=0, atol=2e-5)
    n, row = geometry.tokens, geometry.counts[1] * geometry.counts[2]
    if splits:  # whole windows, then each half of the last row in T with its own index block
        whole = geometry.num_windows - row
        assert attended == [(batch * whole, n, whole), (batch * row, n // 2, row), (batch * row, n // 2, row)]
    else:
        assert attended == [(batch * geometry.num_windows, n, geometry.num_windows)]
