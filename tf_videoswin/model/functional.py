"""The arithmetic of Video Swin as pure functions of tensors (weights are arguments).

Layers in :mod:`tf_videoswin.model.layers` own the variables and call these functions. A Swin block is a
``tf.function`` that receives its weights as tensors, so all blocks of a stage share one traced
graph instead of 2-18 copies that each capture their own variables: an exported Swin-B graph stays
a few MB and traces in seconds.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from .window_ops import WindowGeometry, partition, reverse

#: PyTorch's ``nn.LayerNorm`` default; Keras' own default (1e-3) shifts Swin-T features by ~3e-3.
LAYER_NORM_EPSILON = 1e-5


def linear(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> tf.Tensor:
    """``x @ kernel + bias`` over the last axis of a tensor of any rank."""
    in_features, units = kernel.shape
    flat = x if x.shape.rank == 2 else tf.reshape(x, [-1, in_features])
    y = tf.matmul(flat, kernel)
    if bias is not None:
        y = tf.nn.bias_add(y, bias)
    if x.shape.rank == 2:
        return y
    return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [units]], axis=0))


def layer_norm(
    x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float = LAYER_NORM_EPSILON
) -> tf.Tensor:
    """LayerNorm over the last axis with the biased variance, as ``nn.LayerNorm``."""
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * (tf.math.rsqrt(variance + epsilon) * gamma) + beta


def gelu(x: tf.Tensor) -> tf.Tensor:
    """Exact (erf) GELU, as ``nn.GELU()``; the tanh form moves Swin-T features by ~1e-3."""
    return tf.nn.gelu(x, approximate=False)


def drop_path(
    x: tf.Tensor, rate: tf.Tensor | float, training: bool, seed: tf.Tensor | None = None
) -> tf.Tensor:
    """Stochastic depth: drop the residual branch per sample with probability ``rate`` when training.

    ``seed`` (a ``[2]`` int32 tensor) draws the mask statelessly, so the same seed gives the same mask
    (gradient checkpointing recomputes a block and must see the mask of its forward pass); without it
    the mask comes from TensorFlow's global generator.
    """
    if not training:
        return x
    keep = 1.0 - tf.cast(rate, x.dtype)
    shape = tf.concat([tf.shape(x)[:1], tf.ones([x.shape.rank - 1], tf.int32)], axis=0)
    if seed is None:
        noise = tf.random.uniform(shape, dtype=x.dtype)
    else:
        noise = tf.random.stateless_uniform(shape, seed, dtype=x.dtype)
    return x / keep * tf.floor(keep + noise)


def relative_position_bias(table: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """``(nH, N, N)`` bias from the ``(L, nH)`` table and an ``(N, N)`` index."""
    return tf.transpose(tf.gather(table, index), [2, 0, 1])


class AttentionParams(NamedTuple):
    relative_position_bias_table: tf.Tensor
    qkv_kernel: tf.Tensor
    qkv_bias: tf.Tensor | None
    proj_kernel: tf.Tensor
    proj_bias: tf.Tensor


def window_attention(
    windows: tf.Tensor, index: tf.Tensor, mask: tf.Tensor | None, params: AttentionParams, num_heads: int
) -> tf.Tensor:
    """W-MSA / SW-MSA over ``(B * nW, N, C)`` windows (batch-major), ``mask`` ``(nW, N, N)`` or None.

    The score matrices of all windows together are ~240 MB for Swin-T stage 1 and every pass over
    them (bias, mask, softmax) is bound by memory bandwidth, so windows go through one at a time in
    a ``tf.map_fn`` loop (qkv projection, scores, softmax, values) and each window's scores stay in
    cache. The arithmetic and its order are the official ones; q, k, v are split as the official
    ``reshape(B_, N, 3, nH, C // nH)``.
    """
    dim = params.proj_kernel.shape[0]
    head_dim = dim // num_heads
    scale = head_dim**-0.5
    bias = relative_position_bias(params.relative_position_bias_table, index)

    def attend(x: tf.Tensor, window_mask: tf.Tensor | None) -> tf.Tensor:
        qkv = tf.reshape(linear(x, params.qkv_kernel, params.qkv_bias), [-1, 3, num_heads, head_dim])
        q, k, v = tf.unstack(tf.transpose(qkv, [1, 2, 0, 3]))  # each nH, N, hd
        attn = tf.matmul(q * scale, k, transpose_b=True) + bias
        if window_mask is not None:
            attn = attn + window_mask
        out = tf.matmul(tf.nn.softmax(attn, axis=-1), v)  # nH, N, hd
        return tf.reshape(tf.transpose(out, [1, 0, 2]), [-1, dim])

    if mask is None:
        out = tf.map_fn(lambda w: attend(w, None), windows, parallel_iterations=2)
    else:
        window_ids = tf.range(tf.shape(windows)[0]) % tf.shape(mask)[0]
        out = tf.map_fn(
            lambda e: attend(e[0], tf.gather(mask, e[1])),
            (windows, window_ids),
            parallel_iterations=2,
            fn_output_signature=windows.dtype,
        )
    return linear(out, params.proj_kernel, params.proj_bias)


class BlockParams(NamedTuple):
    norm1_gamma: tf.Tensor
    norm1_beta: tf.Tensor
    attn: AttentionParams
    norm2_gamma: tf.Tensor
    norm2_beta: tf.Tensor
    fc1_kernel: tf.Tensor
    fc1_bias: tf.Tensor
    fc2_kernel: tf.Tensor
    fc2_bias: tf.Tensor


def mlp(x: tf.Tensor, p: BlockParams) -> tf.Tensor:
    """``fc2(gelu(fc1(norm2(x))))``."""
    hidden = gelu(linear(layer_norm(x, p.norm2_gamma, p.norm2_beta), p.fc1_kernel, p.fc1_bias))
    return linear(hidden, p.fc2_kernel, p.fc2_bias)


@tf.function(reduce_retracing=True)
def swin_block(
    x: tf.Tensor,
    geometry: WindowGeometry,
    params: BlockParams,
    drop_rate: tf.Tensor,
    num_heads: int,
    shifted: bool,
    training: bool,
    seed: tf.Tensor | None = None,
) -> tf.Tensor:
    """One Swin block on channels-last ``(B, D, H, W, C)``: pre-norm (shifted-)window attention
    and MLP, each with a residual; padding after ``norm1`` and cropping as upstream.

    ``seed``: optional ``[2]`` int32 seed of the two stochastic-depth masks (see :func:`drop_path`)."""
    seeds = (None, None) if seed is None else (seed, seed + tf.constant([0, 1], seed.dtype))
    size = geometry.size
    y = tf.pad(layer_norm(x, params.norm1_gamma, params.norm1_beta), geometry.paddings)
    if shifted:
        y = tf.roll(y, shift=-geometry.shift, axis=[1, 2, 3])
    y = window_attention(
        partition(y, geometry), geometry.index, geometry.mask if shifted else None, params.attn, num_heads
    )
    y = reverse(y, geometry)
    if shifted:
        y = tf.roll(y, shift=geometry.shift, axis=[1, 2, 3])
    y = tf.slice(y, [0, 0, 0, 0, 0], tf.concat([[-1], size, [-1]], axis=0))
    x = x + drop_path(y, drop_rate, training, seeds[0])
    # The MLP runs one (batch, time) slice at a time so the 4C-wide hidden activations stay in cache.
    shape = tf.shape(x)
    slices = tf.reshape(x, [shape[0] * shape[1], shape[2] * shape[3], x.shape[-1]])
    y = tf.reshape(tf.map_fn(lambda s: mlp(s, params), slices, parallel_iterations=2), shape)
    return x + drop_path(y, drop_rate, training, seeds[1])
