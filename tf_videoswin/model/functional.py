"""The arithmetic of Video Swin as pure functions of tensors (weights are arguments).

Layers in :mod:`tf_videoswin.model.layers` own the variables and call these functions. A Swin block is a
``tf.function`` that receives its weights as tensors, so all blocks of a stage share one traced
graph instead of 2-18 copies that each capture their own variables: an exported Swin-B graph stays
a few MB and traces in seconds.

Precision: activations flow in a *compute dtype* (float32, or bfloat16 / float16 for the reduced
precision modes) into every matmul, while the residual stream, LayerNorm statistics, the attention
logits with their relative-position bias and shift mask, and the softmax stay in float32 (the places
where reduced precision costs accuracy), unless ``attention_precision`` puts the attention logits and
softmax in the compute dtype too (:func:`window_attention`). With float32 every cast below is the
identity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf

from ..config import LAYER_NORM_EPSILON, check_attention_precision
from .window_ops import WindowGeometry, partition, reverse, window_partition, window_reverse

#: The MLP runs on slices of at least this many tokens (one 56x56 frame of the first stage): deeper
#: stages, with 784, 196 or 49 tokens per (batch, time) slice, group consecutive slices so that their
#: matmuls have enough rows to run at full rate (docs/performance.md has the measurements).
MLP_SLICE_TOKENS = 3136

#: Attention takes as many consecutive windows per loop step as keep the step's score matrices within
#: this many elements (8 MB in float32): Swin-T's first stage (3 heads x 392 x 392 per window) takes 4
#: windows per step, its third (12 heads) one. Each oneDNN call has a fixed cost, so small windows are
#: grouped; larger steps spill the scores out of cache (docs/performance.md).
ATTENTION_STEP_SCORES = 2**21

#: Name scopes of the two loops of a block (``benchmarks/profile_ops.py`` reads them from op names).
WINDOW_LOOP_SCOPE = "window_loop"
MLP_LOOP_SCOPE = "mlp_loop"


def linear(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> tf.Tensor:
    """``x @ kernel + bias`` over the last axis of a tensor of any rank, in ``x``'s dtype."""
    in_features, units = kernel.shape
    flat = x if x.shape.rank == 2 else tf.reshape(x, [-1, in_features])
    y = tf.matmul(flat, tf.cast(kernel, x.dtype))
    if bias is not None:
        y = tf.nn.bias_add(y, tf.cast(bias, x.dtype))
    if x.shape.rank == 2:
        return y
    return tf.reshape(y, tf.concat([tf.shape(x)[:-1], [units]], axis=0))


def layer_norm(
    x: tf.Tensor,
    gamma: tf.Tensor,
    beta: tf.Tensor,
    epsilon: float = LAYER_NORM_EPSILON,
    out_dtype: tf.DType | None = None,
) -> tf.Tensor:
    """LayerNorm over the last axis with the biased variance, as ``nn.LayerNorm``.

    Statistics and affine transform in float32 whatever ``x``'s dtype; the result in ``out_dtype``
    (default: ``x``'s dtype).

    Where the number of tokens is unknown when the graph is traced (exports: their clip size is
    dynamic), the statistics come from :func:`normalize_tokens`, which oneDNN runs as one kernel;
    elsewhere (eager calls, graphs traced for one clip size) from mean, variance, subtract and
    multiply, as before.
    """
    out_dtype = out_dtype or x.dtype
    x = tf.cast(x, tf.float32)
    gamma, beta = tf.cast(gamma, tf.float32), tf.cast(beta, tf.float32)
    if x.shape.rank is None or None in x.shape[:-1]:
        # EnsureShape (no work at run time) stops Grappler from moving an upcast that feeds this
        # LayerNorm (a bfloat16 model's patch embedding and PatchMerging outputs) below the
        # reshapes (ReorderCastLikeAndValuePreserving): the cast would then feed FusedBatchNormV3
        # and hide the pattern of oneDNN's rewrite (bfloat16 Swin-T: 4 of 29 LayerNorms unfused).
        x = tf.ensure_shape(x, x.shape)
        channels = x.shape[-1] if x.shape[-1] is not None else tf.shape(x)[-1]
        tokens = normalize_tokens(tf.reshape(x, [-1, channels]), epsilon)
        return tf.cast(tf.reshape(tokens * gamma + beta, tf.shape(x)), out_dtype)
    return tf.cast(moments_layer_norm(x, gamma, beta, epsilon), out_dtype)


def moments_layer_norm(
    x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: float = LAYER_NORM_EPSILON
) -> tf.Tensor:
    """LayerNorm over the last axis written out as mean, biased variance, subtract and affine, in
    ``x``'s dtype: :func:`layer_norm` for a known token count, and the form every converter maps
    (``deploy``: TFLite's and ONNX's batch norms have no training mode)."""
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * (tf.math.rsqrt(variance + epsilon) * gamma) + beta


def normalize_tokens(tokens: tf.Tensor, epsilon: float = LAYER_NORM_EPSILON) -> tf.Tensor:
    """``(x - mean) / sqrt(variance + epsilon)`` of each row of float32 ``(M, C)`` tokens.

    ``FusedBatchNormV3`` in training mode over the ``NCHW`` view ``(1, M, C, 1)``: each token is a
    "channel", normalised over its ``C`` values with their biased variance. This is the subgraph that
    Keras 2's ``LayerNormalization`` emitted; TensorFlow's oneDNN graph rewrite turns it, with the
    ``* gamma + beta`` that follows, into one ``_MklLayerNorm`` kernel: one pass over the tokens
    instead of mean, squared difference, mean, subtract, multiply and add (faster in float32 and
    bfloat16; docs/performance.md). The rewrite needs ``M`` unknown while the graph is optimised
    (constant folding of a known ``M`` breaks its pattern), which is why :func:`layer_norm` uses this
    only for a dynamic token count. The SavedModel holds only standard ops (the rewrite happens where
    it runs); without oneDNN, TensorFlow's own kernel computes the same statistics.
    """
    count, channels = tf.unstack(tf.shape(tokens), num=2)
    normalized, *_ = tf.raw_ops.FusedBatchNormV3(
        x=tf.reshape(tokens, [1, count, channels, 1]),
        scale=tf.fill([count], 1.0),
        offset=tf.fill([count], 0.0),
        mean=tf.constant([], tf.float32),
        variance=tf.constant([], tf.float32),
        epsilon=epsilon,
        data_format="NCHW",
        is_training=True,
    )
    return tf.reshape(normalized, tf.shape(tokens))


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
    """``(..., nH, N, N)`` float32 bias from the ``(L, nH)`` table and an ``(..., N, N)`` index."""
    rank = index.shape.rank
    return tf.transpose(
        tf.gather(tf.cast(table, tf.float32), index), [*range(rank - 2), rank, rank - 2, rank - 1]
    )


class AttentionParams(NamedTuple):
    relative_position_bias_table: tf.Tensor
    qkv_kernel: tf.Tensor
    qkv_bias: tf.Tensor | None
    proj_kernel: tf.Tensor
    proj_bias: tf.Tensor


def head_major_qkv(
    kernel: tf.Tensor, bias: tf.Tensor | None, num_heads: int
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The ``(C, 3C)`` qkv kernel as ``(3 * nH, C, hd)`` and its bias as ``(3 * nH, 1, hd)``.

    Output column ``j`` of the official projection is head ``(j // hd) % nH`` of q, k or v
    (``j // C``), as its ``reshape(B_, N, 3, nH, hd)`` splits it; here each (q/k/v, head) pair gets its
    own ``(C, hd)`` slice, so a batched matmul writes q, k and v per head directly, with no transpose
    of the projected tokens.
    """
    dim, units = kernel.shape
    head_dim = units // (3 * num_heads)
    heads = tf.transpose(tf.reshape(kernel, [dim, 3 * num_heads, head_dim]), [1, 0, 2])
    return heads, None if bias is None else tf.reshape(bias, [3 * num_heads, 1, head_dim])


def window_group(num_windows: tf.Tensor | int, scores_per_window: tf.Tensor | int) -> tf.Tensor:
    """How many consecutive windows one attention step takes: the largest divisor of ``num_windows``
    whose score matrices (``nH * N * N`` elements each) stay within :data:`ATTENTION_STEP_SCORES`
    (at least one)."""
    scores_per_window = tf.convert_to_tensor(scores_per_window, tf.int32)
    return largest_divisor_at_most(num_windows, ATTENTION_STEP_SCORES // tf.maximum(scores_per_window, 1))


def window_attention(
    windows: tf.Tensor,
    index: tf.Tensor,
    mask: tf.Tensor | None,
    params: AttentionParams,
    num_heads: int,
    logits_dtype: tf.DType = tf.float32,
) -> tf.Tensor:
    """W-MSA / SW-MSA over ``(B * nW, N, C)`` windows (batch-major), ``mask`` ``(nW, N, N)`` or None.

    ``index`` is the ``(N, N)`` relative-position index of every window, or ``(K, N, N)``: the windows
    are then K equal runs (each a whole number of clips' windows), run k with ``index[k]``, so the two
    kinds of half window of :func:`time_split_window_attention` share one loop.

    The qkv and output projections run in the windows' dtype; the scores ``(q * scale) · kᵀ`` with
    their relative-position bias and mask, and the softmax, run in ``logits_dtype``. float32 (the
    default): a reduced-precision model casts q and k up, so its scores are products of its q and k
    without another rounding, and the probabilities go back to the windows' dtype for the product
    with v. The windows' own reduced dtype (``attention_precision`` of the model): bias and mask are
    cast once per block, the score matmul runs at the bf16/f16 rate and writes half the bytes, and
    neither the upcast of q and k nor the downcast of the probabilities is needed; oneDNN still
    accumulates the scores, adds the bias and mask, and computes the softmax in float32, but the
    logits and the bias are rounded to the reduced dtype (faster on CPUs with bf16 arithmetic, at a
    drift from float32 measured the same as with float32 logits, because q and k already carry the
    bf16 rounding; docs/performance.md).

    The score matrices of all windows together are ~240 MB for Swin-T stage 1 and every pass over
    them is bound by memory bandwidth, so windows go through a few at a time in a loop
    (:func:`loop_over_steps`):
    as many consecutive windows per step as keep the step's scores within
    :data:`ATTENTION_STEP_SCORES` (:func:`window_group`; 4 windows in Swin-T's first stage, one in its
    third), a divisor of one clip's windows when masked, so that a step's mask is a zero-copy slice
    of the ``(nW, N, N)`` mask. Within a step:

    - q, k and v come out of one batched matmul per step against the head-major kernel
      (:func:`head_major_qkv`) as ``(3, nH, g, N, hd)``: no transpose of the projected tokens. The
      qkv bias is the kernel's last row, against a column of ones appended to the step's tokens,
      so that the matmul adds it: one pass over the step's ``C``-wide input instead of one over
      its ``3C``-wide output (oneDNN does not fuse an add into this broadcast batched matmul). Outputs
      move by float32 round-off only;
    - the scores are laid out ``(nH, g, N, N)`` so that the bias ``(nH, 1, N, N)`` broadcasts over
      the step's windows, the layout in which oneDNN adds it inside the score matmul
      (``_MklFusedBatchMatMulV2``) instead of in a separate pass over the scores. A broadcast over one
      axis is fast there; one over two axes (``(1, 1, N, N)`` against ``(nH, g, N, N)``) takes
      oneDNN's reference path, hundreds of times slower.

    The arithmetic is the official one: the same products, scale applied to q, bias then mask added,
    softmax over the keys (float32 round-off differs with the kernels' summation order).
    """
    dim = params.proj_kernel.shape[0]
    head_dim = dim // num_heads
    scale = head_dim**-0.5
    dtype = windows.dtype
    # (K, nH, 1, N, N): the windows are K equal runs, run k with index[k] (K = 1 for an (N, N) index)
    indices = index if index.shape.rank == 3 else index[None]
    biases = tf.cast(
        relative_position_bias(params.relative_position_bias_table, indices)[:, :, None], logits_dtype
    )
    kernel, qkv_bias = head_major_qkv(params.qkv_kernel, params.qkv_bias, num_heads)
    if qkv_bias is not None:  # the bias as the kernel's last row, for a column of ones (see attend)
        kernel = tf.concat([kernel, qkv_bias], axis=1)  # 3 * nH, C + 1, hd
    shape = tf.shape(windows)
    num_windows, tokens, _ = tf.unstack(shape, num=3)
    # A shifted block's steps divide one clip's windows, so that each step's mask is a slice; the
    # steps of K runs divide a run, so that each step's bias is one.
    per_clip = num_windows // indices.shape[0] if mask is None else tf.shape(mask)[0]
    group = window_group(per_clip, num_heads * tokens * tokens)
    num_steps = num_windows // group
    steps = tf.reshape(windows, [num_steps, group * tokens, dim])
    if indices.shape[0] == 1:
        bias = biases[0]
        step_bias = lambda i: bias  # noqa: E731
    else:  # a step's bias is a slice, as its mask is below
        steps_per_index = num_steps // indices.shape[0]
        step_bias = lambda i: biases[i // steps_per_index]  # noqa: E731

    def attend(x: tf.Tensor, bias: tf.Tensor, step_mask: tf.Tensor | None) -> tf.Tensor:
        if qkv_bias is not None:  # the matmul adds the bias: [x, 1] · [W; b] = x · W + b
            x = tf.concat([x, tf.ones([group * tokens, 1], x.dtype)], axis=1)
        qkv = tf.matmul(x[None], kernel)  # 3 * nH, g * N, hd
        q, k, v = tf.unstack(tf.reshape(qkv, [3, num_heads, group, tokens, head_dim]))
        q, k = tf.cast(q, logits_dtype), tf.cast(k, logits_dtype)
        attn = tf.matmul(q * scale, k, transpose_b=True) + bias  # nH, g, N, N
        if step_mask is not None:
            attn = attn + step_mask
        out = tf.matmul(tf.cast(tf.nn.softmax(attn, axis=-1), dtype), v)  # nH, g, N, hd
        return tf.reshape(tf.transpose(out, [1, 2, 0, 3]), [group * tokens, dim])

    if mask is None:
        step_mask = lambda i: None  # noqa: E731
    else:
        # (steps of one clip, g, N, N): a step's mask is a slice along the first axis, which
        # TensorFlow hands out without a copy (a gather copied g x N x N floats per step).
        steps_per_clip = per_clip // group
        mask_steps = tf.cast(tf.reshape(mask, [steps_per_clip, group, tokens, tokens]), logits_dtype)
        step_mask = lambda i: mask_steps[i % steps_per_clip]  # noqa: E731
    with tf.name_scope(WINDOW_LOOP_SCOPE):
        out = loop_over_steps(lambda w, i: attend(w, step_bias(i), step_mask(i)), steps, dtype)
    return linear(tf.reshape(out, shape), params.proj_kernel, params.proj_bias)


def time_split_window_attention(
    y: tf.Tensor,
    geometry: WindowGeometry,
    params: AttentionParams,
    num_heads: int,
    logits_dtype: tf.DType = tf.float32,
) -> tf.Tensor:
    """SW-MSA of a rolled, padded ``(B, Dp, Hp, Wp, C)`` map whose windows split in two along T.

    After the roll, the last row of windows in T holds two shift regions, the window's first and
    second ``Wd / 2`` frames (the shift is half the window), and upstream's mask adds -100 to every
    score across them. Their softmax weights are then ``exp(gap - 100)`` times the row's largest,
    ``gap`` being how far such a logit lies above the row's largest unmasked one: for gaps below
    ~70, even summed over N/2 keys, far below float32 round-off (a row's sum is at least 1). So
    this attends each half of those windows as a window of its own, N/2 tokens with the diagonal
    blocks of the window's relative-position index (which keeps upstream's index of clipped
    windows) and of its spatial mask, and the other rows whole with their (spatial) mask: the
    scores, softmax and value products of the last row shrink to half, to 3/4 over a shifted block
    of a 32-frame clip (two window rows in T at every stage). Where T has no shift (a clip of at
    most ``Wd`` frames at that stage, or an odd ``Wd``: ``geometry.time_split`` is false), the halves
    are empty and every window is attended whole, as upstream does.

    Returns the attended, projected ``(B, Dp, Hp, Wp, C)`` map, still rolled.
    """
    channels, window = params.proj_kernel.shape[0], geometry.window
    # (B, Dp/wd, wd, Hp/wh, wh, Wp/ww, ww, C), unpacked by one op
    batch, windows_d, wd, ch, wh, cw, ww, _ = tf.unstack(geometry.split_shape, num=8)
    split = tf.cast(geometry.time_split, tf.int32)  # 0: every window whole, no halves
    whole_frames, half_frames = (windows_d - split) * wd, wd // 2
    halves_per_clip = split * ch * cw
    whole = window_partition(y[:, :whole_frames], window)
    halves = tf.reshape(y[:, whole_frames:], [batch, 2 * split, half_frames, ch, wh, cw, ww, channels])
    halves = tf.reshape(
        tf.transpose(halves, [1, 0, 3, 5, 2, 4, 6, 7]),
        [2 * batch * halves_per_clip, half_frames * wh * ww, channels],
    )
    whole = window_attention(whole, geometry.index, geometry.whole_mask, params, num_heads, logits_dtype)
    # First halves, then second halves (each with its block of the index), in one loop.
    halves = window_attention(
        halves, geometry.half_index, geometry.half_mask, params, num_heads, logits_dtype
    )
    whole = window_reverse(whole, window, tf.stack([batch, whole_frames, ch * wh, cw * ww]))
    last = tf.reshape(halves, [2 * split, batch, ch, cw, half_frames, wh, ww, channels])
    last = tf.reshape(
        tf.transpose(last, [1, 0, 4, 2, 5, 3, 6, 7]), [batch, split * wd, ch * wh, cw * ww, channels]
    )
    return tf.concat([whole, last], axis=1)


def loop_over_steps(
    step: Callable[[tf.Tensor, tf.Tensor], tf.Tensor], steps: tf.Tensor, dtype: tf.DType | None = None
) -> tf.Tensor:
    """``concat([step(steps[0], 0), step(steps[1], 1), ...])`` of ``(rows, C)`` results, two steps in flight.

    ``tf.map_fn`` over the first axis of ``steps`` (read through a ``TensorArray``, so that the
    gradient of a step's input is that step's slice, not a full-size tensor per step), except that
    zero steps give an empty ``(0, C)`` result where ``map_fn`` fails (it stacks an empty list of
    partly unknown shape): a loop over windows that a clip size may not have
    (:func:`time_split_window_attention`) needs no ``tf.cond`` around it.
    """
    num_steps = tf.shape(steps)[0]
    if tf.executing_eagerly() and int(num_steps) == 0:  # an eager TensorArray concats a Python list
        return tf.zeros([0, *steps.shape[2:]], dtype or steps.dtype)
    inputs = tf.TensorArray(steps.dtype, size=num_steps, element_shape=steps.shape[1:]).unstack(steps)
    columns = tf.TensorShape([None]).concatenate(steps.shape[2:])
    outputs = tf.TensorArray(dtype or steps.dtype, size=num_steps, infer_shape=False, element_shape=columns)

    def body(i: tf.Tensor, outputs: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
        return i + 1, outputs.write(i, step(inputs.read(i), i))

    _, outputs = tf.while_loop(
        lambda i, _: i < num_steps,
        body,
        (tf.constant(0), outputs),
        parallel_iterations=2,
        maximum_iterations=num_steps,
    )
    return outputs.concat()


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


def mlp(x: tf.Tensor, p: BlockParams, compute_dtype: tf.DType = tf.float32) -> tf.Tensor:
    """``fc2(gelu(fc1(norm2(x))))``; float32 in and out, matmuls in ``compute_dtype``."""
    normed = layer_norm(x, p.norm2_gamma, p.norm2_beta, out_dtype=compute_dtype)
    hidden = gelu(linear(normed, p.fc1_kernel, p.fc1_bias))
    return tf.cast(linear(hidden, p.fc2_kernel, p.fc2_bias), x.dtype)


def largest_divisor_at_most(n: tf.Tensor | int, limit: tf.Tensor | int) -> tf.Tensor:
    """The largest divisor of ``n`` not above ``max(1, limit)`` (1 for ``n == 0``).

    A divisor, so a loop's elements regroup by a reshape without padding; plain integer arithmetic
    (no data-dependent shapes), so every converter and XLA accept it.
    """
    n = tf.convert_to_tensor(n, tf.int32)
    limit = tf.minimum(tf.maximum(1, tf.convert_to_tensor(limit, tf.int32)), tf.maximum(n, 1))
    candidates = tf.range(1, limit + 1)
    divides = tf.cast(tf.equal(n % candidates, 0), tf.int32)
    return tf.reduce_max(candidates * divides)


def mlp_slice_group(
    slices: tf.Tensor | int, tokens_per_slice: tf.Tensor | int, min_tokens: int = MLP_SLICE_TOKENS
) -> tf.Tensor:
    """How many consecutive (batch, time) slices one MLP step takes: the largest divisor of ``slices``
    not above ``ceil(min_tokens / tokens_per_slice)`` (1 when a slice alone has ``min_tokens``)."""
    tokens_per_slice = tf.convert_to_tensor(tokens_per_slice, tf.int32)
    return largest_divisor_at_most(slices, -(-min_tokens // tokens_per_slice))


def mlp_of_slices(x: tf.Tensor, params: BlockParams, compute_dtype: tf.DType = tf.float32) -> tf.Tensor:
    """:func:`mlp` of channels-last float32 ``(B, D, H, W, C)``, a few (batch, time) slices per
    loop step (:func:`mlp_slice_group`): the 4C-wide hidden activations of a step stay in
    cache while each matmul keeps enough rows to run at full rate."""
    shape = tf.shape(x)
    batch, frames, height, width, _ = tf.unstack(shape, num=5)
    num_slices, tokens = batch * frames, height * width
    group = mlp_slice_group(num_slices, tokens)
    slices = tf.reshape(x, [num_slices // group, group * tokens, x.shape[-1]])
    with tf.name_scope(MLP_LOOP_SCOPE):
        out = loop_over_steps(lambda s, _: mlp(s, params, compute_dtype), slices, x.dtype)
    return tf.reshape(out, shape)


def cast_matmul_weights(params: BlockParams, dtype: tf.DType) -> BlockParams:
    """``params`` with the matmul kernels and biases in ``dtype`` (norms and the bias table stay).

    Done once per block, outside the window and slice loops: inside them a cast would run again
    for every window (~5% of a bfloat16 Swin-T forward).
    """
    if dtype == tf.float32:
        return params

    def cast(t: tf.Tensor | None) -> tf.Tensor | None:
        return None if t is None else tf.cast(t, dtype)

    a = params.attn
    attn = a._replace(
        qkv_kernel=cast(a.qkv_kernel),
        qkv_bias=cast(a.qkv_bias),
        proj_kernel=cast(a.proj_kernel),
        proj_bias=cast(a.proj_bias),
    )
    return params._replace(
        attn=attn,
        fc1_kernel=cast(params.fc1_kernel),
        fc1_bias=cast(params.fc1_bias),
        fc2_kernel=cast(params.fc2_kernel),
        fc2_bias=cast(params.fc2_bias),
    )


def swin_block(
    x: tf.Tensor,
    geometry: WindowGeometry,
    params: BlockParams,
    drop_rate: tf.Tensor,
    num_heads: int,
    shifted: bool,
    training: bool,
    seed: tf.Tensor | None = None,
    *,
    precision: str = "float32",
    attention_precision: str = "float32",
) -> tf.Tensor:
    """One Swin block on channels-last float32 ``(B, D, H, W, C)``: pre-norm (shifted-)window attention
    and MLP, each with a residual; padding after ``norm1`` and cropping as upstream.

    ``seed``: optional ``[2]`` int32 seed of the two stochastic-depth masks (see :func:`drop_path`).
    ``attention_precision``: the dtype of the attention logits and softmax (:func:`window_attention`).
    Plain Python: each stage wraps it in its own ``tf.function`` (:func:`block_function`).
    """
    compute = tf.as_dtype(precision)
    params = cast_matmul_weights(params, compute)
    seeds = (None, None) if seed is None else (seed, seed + tf.constant([0, 1], seed.dtype))
    size = geometry.size
    y = tf.pad(layer_norm(x, params.norm1_gamma, params.norm1_beta, out_dtype=compute), geometry.paddings)
    logits_dtype = tf.as_dtype(check_attention_precision(attention_precision, precision))

    if shifted:
        y = tf.roll(y, shift=-geometry.shift, axis=[1, 2, 3])
        y = time_split_window_attention(y, geometry, params.attn, num_heads, logits_dtype)
        y = tf.roll(y, shift=geometry.shift, axis=[1, 2, 3])
    else:
        windows = window_attention(
            partition(y, geometry), geometry.index, None, params.attn, num_heads, logits_dtype
        )
        y = reverse(windows, geometry)
    y = tf.slice(y, [0, 0, 0, 0, 0], tf.concat([[-1], size, [-1]], axis=0))
    x = x + drop_path(tf.cast(y, x.dtype), drop_rate, training, seeds[0])
    return x + drop_path(mlp_of_slices(x, params, compute), drop_rate, training, seeds[1])


#: FunctionDef attributes of the block functions: each call stays a call instead of being inlined
#: into the caller's graph, so Grappler optimises a stage's block once rather than once per block
#: (Swin-B: 24 inlined copies of 4 x 2 functions): a fresh model's first call is shorter, and the
#: steady-state forward is unchanged (docs/performance.md).
BLOCK_FUNCTION_ATTRIBUTES = {"_noinline": True}


def block_function():
    """A fresh ``tf.function`` of :func:`swin_block`, shared by the blocks of one stage (one trace per
    shifted/unshifted and training mode, instead of one per block), called rather than inlined
    (:data:`BLOCK_FUNCTION_ATTRIBUTES`)."""
    return tf.function(
        swin_block,
        reduce_retracing=True,
        autograph=False,
        experimental_attributes=BLOCK_FUNCTION_ATTRIBUTES,
    )
