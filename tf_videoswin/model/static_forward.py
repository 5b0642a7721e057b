"""Video Swin as a static-shape, loop-free graph that every deployment converter maps to builtin ops.

The Keras model (:mod:`tf_videoswin.model.functional`) serves any clip size with one graph: window
geometry is computed from runtime shapes and attention runs a few windows at a time in a ``tf.while_loop``.
Converters cannot use that graph: the TFLite converter with builtin ops stops on the loop's
TensorList ops and turns a dynamic ``tf.roll`` into a Flex op; tf2onnx writes exact GELU as ``Erfc``,
which ONNX Runtime rejects; OpenVINO runs the loops slowly. This module computes the same model for
one clip size known when the graph is built:

- the window geometry of every stage (window clipped to the feature map, shift dropped on clipped axes,
  padding, the official ``[:N, :N]`` relative-index slice, the region labels of the shift mask) is
  NumPy, computed once (:func:`stage_geometry`); the large tensors derived from it (each block's
  ``(nH, N, N)`` relative-position bias, each stage's ``(nW, N, N)`` shift mask) are computed when the
  model runs, so converters cannot fold them into constants (1.1 GB more for a Swin-B file with 16x7x7
  windows at 32x224x224; :func:`gather_at_runtime`);
- all windows go through attention in one batched matmul (no ``map_fn``, no TensorList);
- every transpose has rank <= 6: the 8-D window partition and the 7-/8-D patch reshapes fold the batch
  into a neighbouring axis and merge the last window axis with the channels
  (:func:`window_partition`, :func:`patch_embed`, :func:`patch_merging`);
- GELU is written ``0.5 * x * (1 + erf(x / sqrt 2))`` (:func:`gelu`), the form the TFLite converter
  fuses into its GELU op and tf2onnx writes as ``Erf``;
- cyclic shifts are a split and a concat (:func:`roll`), never a ``Roll`` op.

Memory: the attention scores of all windows of a block exist at once (Swin-T stage 1 at 32x224x224:
128 windows x 3 heads x 392 x 392 floats, ~240 MB per clip), where the Keras model's loop keeps one
window's in cache; runtimes plan and reuse that memory.

The batch may stay dynamic (``None``): every reshape folds it with ``-1``. The weights are read from the
Keras layers' variables at call time (no copy), so :func:`forward` of a
:class:`~tf_videoswin.model.recognizer.Recognizer3D` is its ``call`` at one static clip size, to float32
round-off (the summation order of the batched matmuls differs). The arithmetic and its order are
otherwise those of the official code, as in :mod:`~tf_videoswin.model.functional`.

The export signatures built on it (a ``tf.function`` per clip shape, its weights as inputs for
tf2onnx) are :mod:`tf_videoswin.export.deploy.signatures`.

Example:
    >>> out = forward(model, tf.zeros([1, 3, 32, 224, 224]), kind="classifier")
    >>> out["logits"].shape
    TensorShape([1, 400])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from ..geometry import (  # noqa: F401  (re-exported: the deployment graph's geometry)
    MASK_VALUE,
    ClipShape,
    Size3,
    StageGeometry,
    clip_window,
    region_labels,
    relative_position_index,
    shift_mask,
    stage_geometry,
    stage_sizes,
)

# LayerNorm as mean / variance: the export's FusedBatchNormV3 form does not convert to TFLite or ONNX.
from .functional import AttentionParams, BlockParams, moments_layer_norm
from .layers.common import value
from .recognizer import Recognizer3D

#: What each deployment kind returns.
KIND_OUTPUTS = {
    "classifier": ("logits",),
    "feature_extractor": ("features", "pooled"),
    "model": ("logits", "features", "pooled"),
}


# ---------------------------------------------------------------------------------------------- ops
def _dims(x: tf.Tensor) -> list[int]:
    """Static shape with the (possibly dynamic) batch axis as -1, for ``tf.reshape``."""
    return [-1 if d is None else int(d) for d in x.shape]


def linear(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> tf.Tensor:
    """``x @ kernel + bias`` over the last axis: one 2-D matmul (TFLite ``FULLY_CONNECTED``)."""
    in_features, units = kernel.shape
    dims = _dims(x)
    y = tf.matmul(tf.reshape(x, [-1, in_features]), kernel)
    if bias is not None:
        y = tf.nn.bias_add(y, bias)
    return tf.reshape(y, [*dims[:-1], units]) if len(dims) != 2 else y


def gelu(x: tf.Tensor) -> tf.Tensor:
    """Exact GELU as ``0.5 * x * (1 + erf(x / sqrt 2))``.

    ``tf.nn.gelu(approximate=False)`` is ``0.5 * x * erfc(-x / sqrt 2)``, which tf2onnx writes as an
    ``Erfc`` node that ONNX Runtime cannot run; this form is fused to the TFLite GELU op and maps to
    ONNX ``Erf``. The two agree to float32 round-off.
    """
    return 0.5 * x * (1.0 + tf.math.erf(x / math.sqrt(2.0)))


def roll(x: tf.Tensor, shifts: Sequence[int], axes: Sequence[int]) -> tf.Tensor:
    """``tf.roll`` with static shifts as one split and one concat per shifted axis (no ``Roll`` op)."""
    for shift, axis in zip(shifts, axes, strict=True):
        n = int(x.shape[axis])
        s = shift % n
        if s:
            head, tail = tf.split(x, [n - s, s], axis=axis)
            x = tf.concat([tail, head], axis=axis)
    return x


def pad_to(x: tf.Tensor, target: Size3) -> tf.Tensor:
    """Zero-pad axes 1-3 of ``(B, D, H, W, C)`` at the end up to ``target`` (no op when equal)."""
    extra = [t - int(s) for t, s in zip(target, x.shape[1:4], strict=True)]
    if not any(extra):
        return x
    return tf.pad(x, [[0, 0], *([0, e] for e in extra), [0, 0]])


def window_partition(x: tf.Tensor, window: Size3) -> tf.Tensor:
    """``(B, Dp, Hp, Wp, C)`` -> ``(B * nW, N, C)``, windows ordered b, d, h, w (as upstream).

    One 6-D transpose: the batch is folded with the window-count axis along D and the last window
    axis with the channels (``(B * nD, wd, nH, wh, nW, ww * C)`` -> ``(B * nD, nH, nW, wd, wh, ww * C)``).
    """
    _, _, hp, wp, c = x.shape
    wd, wh, ww = window
    x = tf.reshape(x, [-1, wd, hp // wh, wh, wp // ww, ww * c])
    x = tf.transpose(x, [0, 2, 4, 1, 3, 5])
    return tf.reshape(x, [-1, wd * wh * ww, c])


def window_reverse(windows: tf.Tensor, window: Size3, padded: Size3) -> tf.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, N, C)`` -> ``(B, Dp, Hp, Wp, C)``."""
    c = int(windows.shape[-1])
    (wd, wh, ww), (dp, hp, wp) = window, padded
    x = tf.reshape(windows, [-1, hp // wh, wp // ww, wd, wh, ww * c])
    x = tf.transpose(x, [0, 3, 1, 4, 2, 5])
    return tf.reshape(x, [-1, dp, hp, wp, c])


def anchor_of(x: tf.Tensor) -> tf.Tensor:
    """A ``(1, 1)`` runtime value taken from ``x`` (its first element), for :func:`gather_at_runtime`."""
    return tf.reshape(tf.slice(x, [0] * x.shape.rank, [1] * x.shape.rank), [1, 1])


def gather_at_runtime(rows: tf.Tensor, index: np.ndarray, anchor: tf.Tensor) -> tf.Tensor:
    """``tf.gather(rows, index)``, computed when the model runs rather than stored in the file.

    Converters fold every expression of constants into one constant: the per-block ``(nH, N, N)``
    relative-position bias and the per-stage ``(nW, N, N)`` shift mask would be stored expanded, which
    adds 1.1 GB to a Swin-B (16x7x7 windows) file at 32x224x224. Appending one runtime row (``anchor``,
    broadcast to the row width) to ``rows`` makes the gather depend on the input; ``index`` never
    points at that row, so the values are exactly ``rows[index]``.

    Args:
        rows: ``(L, K)`` constant-valued rows (a weight table, or labels).
        index: int ``(...)`` row indices, all ``< L``.
        anchor: ``(1, 1)`` runtime tensor (see :func:`anchor_of`).
    Returns:
        ``(..., K)``.
    """
    width = int(rows.shape[-1])
    extra = tf.tile(tf.cast(anchor, rows.dtype), [1, width]) if width != 1 else tf.cast(anchor, rows.dtype)
    return tf.gather(tf.concat([rows, extra], axis=0), tf.constant(index, tf.int32))


def relative_position_bias(table: tf.Tensor, index: np.ndarray, anchor: tf.Tensor) -> tf.Tensor:
    """``(nH, N, N)`` bias gathered (at run time) from the ``(L, nH)`` table."""
    return tf.transpose(gather_at_runtime(table, index, anchor), [2, 0, 1])


def shift_mask_at_runtime(geometry: StageGeometry, anchor: tf.Tensor) -> tf.Tensor | None:
    """The stage's ``(nW, 1, N, N)`` shift mask (0 within a region, -100 across), computed at run time
    from the ``(nW, N)`` region label of each token (see :func:`gather_at_runtime`).

    Returns ``None`` when no axis is shifted."""
    if not geometry.has_shift:
        return None
    labels = region_labels(geometry.padded, geometry.window, geometry.shift).astype(np.float32)
    n = labels.size
    flat = gather_at_runtime(labels.reshape(n, 1), np.arange(n).reshape(labels.shape), anchor)[..., 0]
    same = tf.equal(flat[:, None, :, None], flat[:, None, None, :])
    return tf.where(same, tf.constant(0.0), tf.constant(MASK_VALUE))


def window_attention(
    windows: tf.Tensor,
    params: AttentionParams,
    num_heads: int,
    index: np.ndarray,
    mask: tf.Tensor | None,
    anchor: tf.Tensor,
) -> tf.Tensor:
    """W-MSA / SW-MSA over all ``(B * nW, N, C)`` windows at once (batched matmuls, no loop).

    q, k, v split as the official ``reshape(B_, N, 3, nH, C // nH)``; scores scaled, biased, masked
    (``mask`` ``(nW, 1, N, N)`` for shifted blocks, added as ``(B, nW, nH, N, N) + mask``), soft-maxed,
    applied, projected.

    Args:
        windows: ``(B * nW, N, C)``.
        params: the block's attention weights.
        num_heads: heads.
        index: ``(N, N)`` relative-position index in use (:attr:`StageGeometry.index`).
        mask: ``(nW, 1, N, N)`` from :func:`shift_mask_at_runtime`, or ``None`` (no shift).
        anchor: see :func:`gather_at_runtime`.
    """
    _, n, c = windows.shape
    head_dim = c // num_heads
    qkv = linear(windows, params.qkv_kernel, params.qkv_bias)
    qkv = tf.transpose(tf.reshape(qkv, [-1, n, 3, num_heads, head_dim]), [2, 0, 3, 1, 4])
    q, k, v = tf.unstack(qkv, axis=0)  # each (B * nW, nH, N, hd)
    attn = tf.matmul(q * head_dim**-0.5, k, transpose_b=True)
    attn = attn + relative_position_bias(params.relative_position_bias_table, index, anchor)
    if mask is not None:
        attn = tf.reshape(attn, [-1, int(mask.shape[0]), num_heads, n, n]) + mask
        attn = tf.reshape(attn, [-1, num_heads, n, n])
    out = tf.matmul(tf.nn.softmax(attn, axis=-1), v)  # (B * nW, nH, N, hd)
    out = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [-1, n, c])
    return linear(out, params.proj_kernel, params.proj_bias)


def mlp(x: tf.Tensor, params: BlockParams) -> tf.Tensor:
    """``fc2(gelu(fc1(norm2(x))))``."""
    hidden = linear(
        moments_layer_norm(x, params.norm2_gamma, params.norm2_beta), params.fc1_kernel, params.fc1_bias
    )
    return linear(gelu(hidden), params.fc2_kernel, params.fc2_bias)


def swin_block(
    x: tf.Tensor,
    geometry: StageGeometry,
    params: BlockParams,
    num_heads: int,
    shifted: bool,
    mask: tf.Tensor | None = None,
    anchor: tf.Tensor | None = None,
) -> tf.Tensor:
    """One Swin block on channels-last ``(B, D, H, W, C)`` (inference: no stochastic depth).

    Pre-norm, pad, cyclic shift (shifted blocks), window attention, reverse, shift back, crop, residual;
    then the MLP with its residual (upstream ``SwinTransformerBlock3D.forward``).

    Args:
        x: the block input.
        geometry: the stage's :class:`StageGeometry`.
        params: the block's weights.
        num_heads: heads.
        shifted: a shifted-window block (odd blocks of a stage).
        mask: the stage's :func:`shift_mask_at_runtime` (computed once per stage); built here if omitted.
        anchor: see :func:`gather_at_runtime` (default: taken from ``x``).
    """
    anchor = anchor_of(x) if anchor is None else anchor
    if shifted and mask is None:
        mask = shift_mask_at_runtime(geometry, anchor)
    shift = geometry.shift if shifted else (0, 0, 0)
    y = pad_to(moments_layer_norm(x, params.norm1_gamma, params.norm1_beta), geometry.padded)
    y = roll(y, [-s for s in shift], axes=(1, 2, 3))
    y = window_partition(y, geometry.window)
    y = window_attention(y, params.attn, num_heads, geometry.index, mask if shifted else None, anchor)
    y = roll(window_reverse(y, geometry.window, geometry.padded), shift, axes=(1, 2, 3))
    if geometry.needs_padding:
        d, h, w = geometry.size
        y = y[:, :d, :h, :w, :]
    x = x + y
    return x + mlp(x, params)


def patch_embed(
    video: tf.Tensor,
    kernel: tf.Tensor,
    bias: tf.Tensor,
    patch_size: Size3,
    norm: tuple[tf.Tensor, tf.Tensor] | None,
) -> tf.Tensor:
    """Channels-first ``(B, 3, T, H, W)`` -> tokens ``(B, T/2, H/4, W/4, C)`` (Conv3d with stride = kernel).

    The clip is padded to whole patches, transposed once to channels-last, and split into patches with a
    6-D transpose (batch folded with the temporal patch count, the last patch axis merged with the
    channels); the patches meet the ``(kd * kh * kw * in, C)`` kernel in one matmul.
    """
    pd, ph, pw = patch_size
    _, cin, t, h, w = video.shape
    nd, nh, nw = -(-t // pd), -(-h // ph), -(-w // pw)
    if (nd * pd, nh * ph, nw * pw) != (t, h, w):
        video = tf.pad(video, [[0, 0], [0, 0], [0, nd * pd - t], [0, nh * ph - h], [0, nw * pw - w]])
    x = tf.transpose(video, [0, 2, 3, 4, 1])  # B, T, H, W, in
    x = tf.reshape(x, [-1, pd, nh, ph, nw, pw * cin])
    x = tf.transpose(x, [0, 2, 4, 1, 3, 5])  # B * nd, nh, nw, pd, ph, pw * in
    x = tf.reshape(x, [-1, nd, nh, nw, pd * ph * pw * cin])
    embed_dim = int(kernel.shape[-1])
    x = linear(x, tf.reshape(kernel, [-1, embed_dim]), bias)
    return moments_layer_norm(x, *norm) if norm is not None else x


def patch_merging(x: tf.Tensor, norm: tuple[tf.Tensor, tf.Tensor], reduction: tf.Tensor) -> tf.Tensor:
    """``(B, D, H, W, C)`` -> ``(B, D, ceil(H/2), ceil(W/2), 2C)``, upstream's ``x0, x1, x2, x3`` order.

    One 6-D transpose with the batch folded into D: ``(B * D, H/2, 2, W/2, 2, C)`` ->
    ``(B * D, H/2, W/2, w parity, h parity, C)``.
    """
    _, d, h, w, c = x.shape
    h2, w2 = -(-h // 2), -(-w // 2)
    x = pad_to(x, (d, 2 * h2, 2 * w2))
    x = tf.reshape(x, [-1, h2, 2, w2, 2, c])
    x = tf.transpose(x, [0, 1, 3, 4, 2, 5])
    x = tf.reshape(x, [-1, d, h2, w2, 4 * c])
    return linear(moments_layer_norm(x, *norm), reduction)


# ---------------------------------------------------------------------------------------------- model
#: Reads a model variable as a tensor, given its name (``backbone.layers.0.blocks.1.attn.qkv.kernel``).
WeightReader = Callable[[str, object], tf.Tensor]


def read_variable(name: str, variable) -> tf.Tensor:
    """The default :data:`WeightReader`: the variable's current value (no copy)."""
    return value(variable)


def _block_params(block, prefix: str, read: WeightReader) -> BlockParams:
    def r(path: str, variable):
        return None if variable is None else read(f"{prefix}.{path}", variable)

    attn = block.attn
    return BlockParams(
        r("norm1.gamma", block.norm1.gamma),
        r("norm1.beta", block.norm1.beta),
        AttentionParams(
            r("attn.relative_position_bias_table", attn.relative_position_bias_table),
            r("attn.qkv.kernel", attn.qkv.kernel),
            r("attn.qkv.bias", attn.qkv.bias),
            r("attn.proj.kernel", attn.proj.kernel),
            r("attn.proj.bias", attn.proj.bias),
        ),
        r("norm2.gamma", block.norm2.gamma),
        r("norm2.beta", block.norm2.beta),
        r("mlp.fc1.kernel", block.mlp.fc1.kernel),
        r("mlp.fc1.bias", block.mlp.fc1.bias),
        r("mlp.fc2.kernel", block.mlp.fc2.kernel),
        r("mlp.fc2.bias", block.mlp.fc2.bias),
    )


def forward_features(model: Recognizer3D, video: tf.Tensor, read: WeightReader = read_variable) -> tf.Tensor:
    """Backbone output ``(B, 8C, T', H', W')`` after the final norm; ``video``'s T, H, W must be static.

    Args:
        model: the Keras model whose variables are read (no copy).
        video: ``(B, 3, T, H, W)`` float32, normalised; ``B`` may be dynamic.
        read: how each weight is read, by name (default: the variable's value; see
            :func:`tf_videoswin.export.deploy.signatures.deploy_function_with_weight_inputs` for weights fed
            as inputs).
    """
    if video.shape.rank != 5 or None in video.shape[1:]:
        raise ValueError(f"the deployment graph needs a static (B, 3, T, H, W) clip, got {video.shape}")
    backbone = model.backbone
    embed = backbone.patch_embed
    norm = None
    if embed.norm is not None:
        norm = (
            read("backbone.patch_embed.norm.gamma", embed.norm.gamma),
            read("backbone.patch_embed.norm.beta", embed.norm.beta),
        )
    kernel = read("backbone.patch_embed.proj.kernel", embed.proj.kernel)
    bias = read("backbone.patch_embed.proj.bias", embed.proj.bias)
    x = patch_embed(video, kernel, bias, backbone.patch_size, norm)
    for i, layer in enumerate(backbone.layers):
        geometry = stage_geometry(tuple(int(s) for s in x.shape[1:4]), layer.window_size)
        anchor = anchor_of(x)
        mask = shift_mask_at_runtime(geometry, anchor)
        for j, block in enumerate(layer.blocks):
            params = _block_params(block, f"backbone.layers.{i}.blocks.{j}", read)
            x = swin_block(x, geometry, params, block.num_heads, block.shifted, mask, anchor)
        if layer.downsample is not None:
            down, prefix = layer.downsample, f"backbone.layers.{i}.downsample"
            x = patch_merging(
                x,
                (read(f"{prefix}.norm.gamma", down.norm.gamma), read(f"{prefix}.norm.beta", down.norm.beta)),
                read(f"{prefix}.reduction.kernel", down.reduction.kernel),
            )
    gamma = read("backbone.norm.gamma", backbone.norm.gamma)
    x = moments_layer_norm(x, gamma, read("backbone.norm.beta", backbone.norm.beta))
    return tf.transpose(x, [0, 4, 1, 2, 3])


def forward(
    model: Recognizer3D, video: tf.Tensor, kind: str = "model", read: WeightReader = read_variable
) -> dict[str, tf.Tensor]:
    """The outputs of ``kind`` (see :data:`KIND_OUTPUTS`) for a clip of static T, H, W (inference mode).

    Args:
        model: the Keras model.
        video: ``(B, 3, T, H, W)`` float32; ``B`` may be dynamic.
        kind: ``"classifier"`` (logits), ``"feature_extractor"`` (features, pooled) or ``"model"`` (all).
        read: how each weight is read (see :func:`forward_features`).
    Returns:
        A dict with the outputs of ``kind``, named as :meth:`Recognizer3D.call` names them.
    """
    if kind not in KIND_OUTPUTS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {sorted(KIND_OUTPUTS)}")
    names = KIND_OUTPUTS[kind]
    if "logits" in names and not model.include_top:
        raise ValueError(f"{model.name} has no classification head: use kind='feature_extractor'")
    features = forward_features(model, video, read)
    pooled = model.pool(features)
    out = {"features": features, "pooled": pooled}
    if "logits" in names:
        head = model.cls_head.fc_cls
        logits_kernel = read("cls_head.fc_cls.kernel", head.kernel)
        out["logits"] = linear(pooled, logits_kernel, read("cls_head.fc_cls.bias", head.bias))
    return {name: tf.identity(out[name], name=name) for name in names}
