"""Pure window arithmetic of Video Swin in TensorFlow, computed from runtime shapes.

Every function takes the feature size as a tensor, so one traced graph serves any T, H, W:
nothing here bakes a per-shape constant into the graph.
"""

from __future__ import annotations

import tensorflow as tf

Size3 = tuple[int, int, int]


def get_window_size(
    x_size: tf.Tensor, window_size: Size3, shift_size: Size3 = (0, 0, 0)
) -> tuple[tf.Tensor, tf.Tensor]:
    """Clip the window to the feature size; an axis with ``size <= window`` gets no shift.

    Args:
        x_size: int32 ``[3]`` (D, H, W) of the feature map.
    Returns:
        int32 ``[3]`` window and shift actually used.
    """
    window = tf.constant(window_size, tf.int32)
    clipped = x_size <= window
    return tf.where(clipped, x_size, window), tf.where(clipped, 0, tf.constant(shift_size, tf.int32))


def pad_to_multiple(x: tf.Tensor, multiple: tf.Tensor) -> tf.Tensor:
    """Zero-pad axes 1-3 of ``(B, D, H, W, C)`` at the end up to a multiple of ``multiple``."""
    size = tf.shape(x)[1:4]
    pad = (multiple - size % multiple) % multiple
    zeros = tf.zeros([3], tf.int32)
    paddings = tf.concat([[[0, 0]], tf.stack([zeros, pad], axis=1), [[0, 0]]], axis=0)
    return tf.pad(x, paddings)


def window_partition(x: tf.Tensor, window_size: tf.Tensor) -> tf.Tensor:
    """``(B, D, H, W, C)`` -> ``(B * nW, Wd * Wh * Ww, C)``, windows ordered b, d, h, w."""
    shape = tf.shape(x)
    channels = x.shape[-1] if x.shape[-1] is not None else shape[4]
    wd, wh, ww = window_size[0], window_size[1], window_size[2]
    x = tf.reshape(
        x, [shape[0], shape[1] // wd, wd, shape[2] // wh, wh, shape[3] // ww, ww, channels]
    )
    x = tf.transpose(x, [0, 1, 3, 5, 2, 4, 6, 7])
    return tf.reshape(x, [-1, wd * wh * ww, channels])


def window_reverse(windows: tf.Tensor, window_size: tf.Tensor, padded_shape: tf.Tensor) -> tf.Tensor:
    """Inverse of :func:`window_partition`; ``padded_shape`` is ``(B, Dp, Hp, Wp)``."""
    channels = windows.shape[-1] if windows.shape[-1] is not None else tf.shape(windows)[-1]
    b, d, h, w = padded_shape[0], padded_shape[1], padded_shape[2], padded_shape[3]
    wd, wh, ww = window_size[0], window_size[1], window_size[2]
    x = tf.reshape(windows, [b, d // wd, h // wh, w // ww, wd, wh, ww, channels])
    x = tf.transpose(x, [0, 1, 4, 2, 5, 3, 6, 7])
    return tf.reshape(x, [b, d, h, w, channels])


def relative_position_index(window_size: Size3) -> tf.Tensor:
    """``(N, N)`` int32 index into the ``(2Wd-1)(2Wh-1)(2Ww-1)`` bias table (tokens flattened d, h, w).

    Built from ``tf.range`` ops rather than stored, so the graph carries a few nodes, not N^2 ints.
    """
    wd, wh, ww = window_size
    t = tf.range(wd * wh * ww)
    d, h, w = t // (wh * ww), (t // ww) % wh, t % ww

    def rel(a: tf.Tensor, size: int) -> tf.Tensor:
        return a[:, None] - a[None, :] + (size - 1)

    return rel(d, wd) * ((2 * wh - 1) * (2 * ww - 1)) + rel(h, wh) * (2 * ww - 1) + rel(w, ww)


def _region_labels(size: tf.Tensor, window: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """Per-position region id along one padded axis: slices ``[:-w], [-w:-s], [-s:]``.

    With ``s == 0`` upstream's last slice ``[-0:]`` covers the whole axis: a single region.
    """
    pos = tf.range(size)
    label = tf.cast(pos >= size - window, tf.int32) + tf.cast(pos >= size - shift, tf.int32)
    return tf.where(shift > 0, label, tf.zeros_like(label))


def compute_mask(padded_size: tf.Tensor, window_size: tf.Tensor, shift_size: tf.Tensor) -> tf.Tensor:
    """``(nW, N, N)`` float32 additive mask of shifted windows: 0 within a region, -100 across."""
    ld = _region_labels(padded_size[0], window_size[0], shift_size[0])
    lh = _region_labels(padded_size[1], window_size[1], shift_size[1])
    lw = _region_labels(padded_size[2], window_size[2], shift_size[2])
    labels = ld[:, None, None] * 9 + lh[None, :, None] * 3 + lw[None, None, :]
    windows = window_partition(labels[None, ..., None], window_size)[..., 0]  # nW, N
    different = tf.not_equal(windows[:, None, :], windows[:, :, None])
    return tf.where(different, tf.constant(-100.0), tf.constant(0.0))
