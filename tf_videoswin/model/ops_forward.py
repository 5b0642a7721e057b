"""Video Swin's forward pass in ``keras.ops``: the model on the JAX and PyTorch backends.

The same layers and variables as the TensorFlow path (:mod:`tf_videoswin.model.functional`), read here
by functions written with ``keras.ops`` alone, so one weights file serves every backend. Shapes are
static integers whenever these functions run (JAX traces once per clip shape, PyTorch runs eagerly),
so the window geometry comes from the shared NumPy module :mod:`tf_videoswin.geometry`: padding to
whole windows, windows clipped to small maps with no shift on clipped axes, the official top-left
``[:N, :N]`` index slice, and the -100 shift mask, built at run time from the small ``(nW, N)`` region
labels (a constant ``(nW, N, N)`` mask would be ~80 MB in Swin-T's first stage at 32x224x224).

The arithmetic is the official one: exact (erf) GELU, LayerNorm with epsilon 1e-5 and the biased
variance, q scaled before ``q kᵀ``, bias then mask added, softmax over the keys; the windows of a block
go through one batched attention, as upstream does, except that a shifted block attends the last window
row in T as two half windows, as the TensorFlow path does: the pairs it leaves out carry a softmax
weight of ``exp(-100)`` relative to the row, nothing in float32 (:func:`shifted_window_attention`).
Precision: matmuls run in the model's compute dtype; the residual stream, LayerNorm statistics and (by
default) the attention logits and softmax stay float32, as on the TensorFlow path.

See ``docs/backends.md`` for choosing a backend.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import keras
import numpy as np
from keras import ops

from ..config import LAYER_NORM_EPSILON
from ..geometry import MASK_VALUE, Size3, StageGeometry, region_labels, stage_geometry

if TYPE_CHECKING:
    from .layers import (
        BasicLayer,
        PatchEmbed3D,
        PatchMerging,
        SwinTransformer3D,
        SwinTransformerBlock3D,
        WindowAttention3D,
    )

Tensor = Any
#: Receives ``(module path, output)`` of every block and stage (see ``SwinTransformer3D.call``); a
#: callable, because Keras copies list/dict arguments.
OutputHook = Callable[[str, Tensor], None]


@functools.lru_cache(maxsize=64)
def geometry_of(size: Size3, window_size: Size3) -> StageGeometry:
    """:func:`~tf_videoswin.geometry.stage_geometry`, cached: a model serves few clip sizes."""
    return stage_geometry(size, window_size)


@functools.lru_cache(maxsize=64)
def labels_of(padded: Size3, window: Size3, shift: Size3) -> np.ndarray:
    """``(nW, N)`` shift-region label of every token of every window (see :func:`region_mask`)."""
    return region_labels(padded, window, shift)


def linear(x: Tensor, kernel: Tensor, bias: Tensor | None = None, dtype: str = "float32") -> Tensor:
    """``x @ kernel + bias`` over the last axis, in ``dtype``."""
    y = ops.matmul(ops.cast(x, dtype), ops.cast(kernel, dtype))
    return y if bias is None else y + ops.cast(bias, dtype)


def layer_norm(
    x: Tensor, gamma: Tensor, beta: Tensor, epsilon: float = LAYER_NORM_EPSILON, dtype: str = "float32"
) -> Tensor:
    """``nn.LayerNorm`` over the last axis (biased variance), statistics in float32; result in ``dtype``.

    ``ops.layer_normalization`` is PyTorch's own ``layer_norm`` kernel on that backend (one pass instead
    of eight elementwise ones) and mean plus two-pass variance, fused by XLA, on JAX."""
    y = ops.layer_normalization(
        ops.cast(x, "float32"), ops.cast(gamma, "float32"), ops.cast(beta, "float32"), -1, epsilon
    )
    return ops.cast(y, dtype)


def gelu(x: Tensor) -> Tensor:
    """Exact (erf) GELU, as ``nn.GELU()``: ``keras.ops.gelu`` defaults to the tanh approximation."""
    return ops.gelu(x, approximate=False)


def drop_path(x: Tensor, rate: float, training: bool, seed: keras.random.SeedGenerator | None) -> Tensor:
    """Stochastic depth: drop the residual branch per sample with probability ``rate`` when training."""
    if not training or rate <= 0.0:
        return x
    keep = 1.0 - rate
    noise = keras.random.uniform((ops.shape(x)[0],) + (1,) * (len(x.shape) - 1), seed=seed)
    return x / keep * ops.floor(keep + ops.cast(noise, x.dtype))


def region_mask(labels: np.ndarray) -> Tensor:
    """``(nW, n, n)`` float32 from ``(nW, n)`` region labels: -100 between tokens of different shift
    regions, 0 within one."""
    labels = ops.convert_to_tensor(labels)
    different = ops.not_equal(labels[:, None, :], labels[:, :, None])
    return ops.where(different, MASK_VALUE, 0.0)


class ShiftMasks(NamedTuple):
    """The masks of a stage's shifted blocks (see :func:`shifted_window_attention`)."""

    whole: Tensor  # (geometry.whole_windows, N, N): the windows attended whole
    half: Tensor | None  # (windows of the last row in T, N/2, N/2) within a half window, or None


def shift_masks(geometry: StageGeometry) -> ShiftMasks:
    """The :class:`ShiftMasks` of ``geometry``, from its ``(nW, N)`` region labels."""
    labels = labels_of(geometry.padded, geometry.window, geometry.shift)
    whole = geometry.whole_windows
    half = region_mask(labels[whole:, : geometry.tokens // 2]) if geometry.time_split else None
    return ShiftMasks(region_mask(labels[:whole]), half)


def window_partition(x: Tensor, window: Size3) -> Tensor:
    """``(B, Dp, Hp, Wp, C)`` -> ``(B * nW, N, C)``, windows ordered b, d, h, w; tokens d, h, w."""
    _, dp, hp, wp, channels = x.shape
    wd, wh, ww = window
    x = ops.reshape(x, (-1, dp // wd, wd, hp // wh, wh, wp // ww, ww, channels))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4, 6, 7))
    return ops.reshape(x, (-1, wd * wh * ww, channels))


def window_reverse(windows: Tensor, window: Size3, padded: Size3) -> Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, N, C)`` -> ``(B, Dp, Hp, Wp, C)``."""
    (dp, hp, wp), (wd, wh, ww) = padded, window
    channels = windows.shape[-1]
    x = ops.reshape(windows, (-1, dp // wd, hp // wh, wp // ww, wd, wh, ww, channels))
    x = ops.transpose(x, (0, 1, 4, 2, 5, 3, 6, 7))
    return ops.reshape(x, (-1, dp, hp, wp, channels))


def relative_position_bias(attn: WindowAttention3D, geometry: StageGeometry) -> Tensor:
    """``(nH, N, N)`` float32: ``attn``'s bias table gathered at ``geometry.index``, whose entries all
    lie inside the table (JAX's ``take`` would give NaN for an index out of range)."""
    tokens = geometry.tokens
    table = ops.cast(attn.relative_position_bias_table, "float32")
    bias = ops.take(table, ops.convert_to_tensor(geometry.index.reshape(-1)), axis=0)
    return ops.transpose(ops.reshape(bias, (tokens, tokens, attn.num_heads)), (2, 0, 1))


def window_attention(
    windows: Tensor,
    attn: WindowAttention3D,
    bias: Tensor,
    mask: Tensor | None,
    dtype: str = "float32",
    logits_dtype: str = "float32",
) -> Tensor:
    """W-MSA / SW-MSA of ``(B * nW, n, C)`` windows with ``attn``'s weights (a ``WindowAttention3D``).

    ``bias``: the ``(nH, n, n)`` relative-position bias of these windows' tokens
    (:func:`relative_position_bias`, or a diagonal block of it). ``mask``: the ``(nW, n, n)`` shift mask
    of a shifted block, or None.
    """
    num_heads, channels = attn.num_heads, attn.dim
    head_dim = channels // num_heads
    tokens = bias.shape[-1]
    qkv = linear(windows, attn.qkv.kernel, attn.qkv.bias, dtype)  # B*nW, n, 3C
    qkv = ops.transpose(ops.reshape(qkv, (-1, tokens, 3, num_heads, head_dim)), (2, 0, 3, 1, 4))
    q, k, v = qkv[0], qkv[1], qkv[2]  # B*nW, nH, n, hd
    q = ops.cast(q * ops.cast(head_dim**-0.5, dtype), logits_dtype)
    scores = ops.matmul(q, ops.transpose(ops.cast(k, logits_dtype), (0, 1, 3, 2)))  # B*nW, nH, n, n
    scores = scores + ops.cast(bias, logits_dtype)
    if mask is not None:
        num_windows = mask.shape[0]
        scores = ops.reshape(scores, (-1, num_windows, num_heads, tokens, tokens))
        scores = scores + ops.cast(mask[:, None], logits_dtype)
        scores = ops.reshape(scores, (-1, num_heads, tokens, tokens))
    probs = ops.cast(ops.softmax(scores, axis=-1), dtype)
    out = ops.matmul(probs, ops.cast(v, dtype))  # B*nW, nH, n, hd
    out = ops.reshape(ops.transpose(out, (0, 2, 1, 3)), (-1, tokens, channels))
    return linear(out, attn.proj.kernel, attn.proj.bias, dtype)


def attend_windows(
    y: Tensor,
    attn: WindowAttention3D,
    window: Size3,
    bias: Tensor,
    mask: Tensor | None,
    dtype: str = "float32",
    logits_dtype: str = "float32",
) -> Tensor:
    """:func:`window_attention` over every ``window`` of a ``(B, D, H, W, C)`` map (sizes multiples of
    ``window``), the map back in its layout."""
    windows = window_attention(window_partition(y, window), attn, bias, mask, dtype, logits_dtype)
    return window_reverse(windows, window, tuple(y.shape[1:4]))


def shifted_window_attention(
    y: Tensor,
    attn: WindowAttention3D,
    geometry: StageGeometry,
    masks: ShiftMasks,
    dtype: str = "float32",
    logits_dtype: str = "float32",
) -> Tensor:
    """SW-MSA of a rolled, padded ``(B, Dp, Hp, Wp, C)`` map; returns the attended map, still rolled.

    Where ``geometry.time_split``, the last window row in T holds two shift regions (the window's first
    and second ``Wd / 2`` frames) whose scores upstream's mask lowers by 100, which leaves them a
    softmax weight far below float32 round-off; that row is attended as two half windows of ``N / 2``
    tokens, with the diagonal blocks of the bias and of the spatial mask, as the TensorFlow path does
    (the argument in full: ``functional.time_split_window_attention``). Every other window is whole.
    """
    bias = relative_position_bias(attn, geometry)
    if not geometry.time_split:
        return attend_windows(y, attn, geometry.window, bias, masks.whole, dtype, logits_dtype)
    (dp, hp, wp), (wd, wh, ww) = geometry.padded, geometry.window
    ch, cw, channels, half = hp // wh, wp // ww, y.shape[-1], wd // 2
    whole = attend_windows(y[:, : dp - wd], attn, geometry.window, bias, masks.whole, dtype, logits_dtype)
    last = ops.reshape(y[:, dp - wd :], (-1, 2, half, ch, wh, cw, ww, channels))
    last = ops.reshape(ops.transpose(last, (1, 0, 3, 5, 2, 4, 6, 7)), (2, -1, half * wh * ww, channels))
    n = geometry.tokens // 2  # each half's bias: a diagonal block of the window's
    halves = [
        window_attention(
            last[i], attn, bias[:, i * n : (i + 1) * n, i * n : (i + 1) * n], masks.half, dtype, logits_dtype
        )
        for i in range(2)
    ]
    last = ops.reshape(ops.stack(halves), (2, -1, ch, cw, half, wh, ww, channels))
    last = ops.reshape(ops.transpose(last, (1, 0, 4, 2, 5, 3, 6, 7)), (-1, wd, hp, wp, channels))
    return ops.concatenate([whole, last], axis=1)


def swin_block(
    x: Tensor,
    block: SwinTransformerBlock3D,
    geometry: StageGeometry,
    masks: ShiftMasks | None,
    training: bool,
    seed: keras.random.SeedGenerator | None,
) -> Tensor:
    """One Swin block on channels-last float32 ``(B, D, H, W, C)``: pre-norm (shifted-)window attention
    and MLP, each with a residual; padding after ``norm1`` and cropping as upstream."""
    dtype, logits_dtype = block.precision, block.attention_precision
    d, h, w = geometry.size
    pd, ph, pw = (p - s for p, s in zip(geometry.padded, geometry.size, strict=True))
    y = layer_norm(x, block.norm1.gamma, block.norm1.beta, dtype=dtype)
    if pd or ph or pw:
        y = ops.pad(y, ((0, 0), (0, pd), (0, ph), (0, pw), (0, 0)))
    if block.shifted and masks is not None:
        y = ops.roll(y, shift=tuple(-s for s in geometry.shift), axis=(1, 2, 3))
        y = shifted_window_attention(y, block.attn, geometry, masks, dtype, logits_dtype)
        y = ops.roll(y, shift=geometry.shift, axis=(1, 2, 3))
    else:
        bias = relative_position_bias(block.attn, geometry)
        y = attend_windows(y, block.attn, geometry.window, bias, None, dtype, logits_dtype)
    if pd or ph or pw:
        y = y[:, :d, :h, :w, :]
    rate = block.drop_path.rate
    x = x + drop_path(ops.cast(y, "float32"), rate, training, seed)
    hidden = layer_norm(x, block.norm2.gamma, block.norm2.beta, dtype=dtype)
    hidden = gelu(linear(hidden, block.mlp.fc1.kernel, block.mlp.fc1.bias, dtype))
    hidden = linear(hidden, block.mlp.fc2.kernel, block.mlp.fc2.bias, dtype)
    return x + drop_path(ops.cast(hidden, "float32"), rate, training, seed)


def basic_layer(
    x: Tensor,
    layer: BasicLayer,
    training: bool,
    seed: keras.random.SeedGenerator | None,
    on_output: OutputHook | None = None,
) -> Tensor:
    """One stage: its blocks share one geometry (and mask), then the optional PatchMerging."""
    geometry = geometry_of(tuple(int(s) for s in x.shape[1:4]), layer.window_size)
    masks = shift_masks(geometry) if geometry.has_shift and layer.depth > 1 else None
    for block in layer.blocks:
        x = swin_block(x, block, geometry, masks, training, seed)
        if on_output is not None:
            on_output(block.name, x)
    if layer.downsample is not None:
        x = patch_merging(x, layer.downsample)
    return x


def patch_embed(video: Tensor, layer: PatchEmbed3D, channels_last: bool) -> Tensor:
    """Clip -> channels-last tokens ``(B, T/2, H/4, W/4, C)``: the stride-equals-kernel Conv3d as a
    matmul over non-overlapping patches, after padding T, H, W to whole patches (as upstream)."""
    video = ops.cast(video, "float32")
    if not channels_last:
        video = ops.transpose(video, (0, 2, 3, 4, 1))
    _, t, h, w, channels = video.shape
    pd, ph, pw = layer.patch_size
    pads = ((0, 0), (0, -t % pd), (0, -h % ph), (0, -w % pw), (0, 0))
    if any(p for _, p in pads):
        video = ops.pad(video, pads)
    nd, nh, nw = -(-t // pd), -(-h // ph), -(-w // pw)
    x = ops.reshape(video, (-1, nd, pd, nh, ph, nw, pw, channels))
    x = ops.transpose(x, (0, 1, 3, 5, 2, 4, 6, 7))  # B, nd, nh, nw, pd, ph, pw, in
    x = ops.reshape(x, (-1, nd, nh, nw, pd * ph * pw * channels))
    kernel = ops.reshape(layer.proj.kernel, (-1, layer.embed_dim))  # (kd, kh, kw, in) rows, as above
    x = linear(x, kernel, layer.proj.bias, layer.precision)
    if layer.norm is None:
        return ops.cast(x, "float32")
    return layer_norm(x, layer.norm.gamma, layer.norm.beta)


def patch_merging(x: Tensor, layer: PatchMerging) -> Tensor:
    """``(B, D, H, W, C)`` -> ``(B, D, ceil(H/2), ceil(W/2), 2C)``, upstream's ``x0, x1, x2, x3`` order
    (H parity fastest)."""
    _, d, h, w, channels = x.shape
    if h % 2 or w % 2:
        x = ops.pad(x, ((0, 0), (0, 0), (0, h % 2), (0, w % 2), (0, 0)))
    h2, w2 = -(-h // 2), -(-w // 2)
    x = ops.reshape(x, (-1, d, h2, 2, w2, 2, channels))
    x = ops.reshape(ops.transpose(x, (0, 1, 2, 4, 5, 3, 6)), (-1, d, h2, w2, 4 * channels))
    normed = layer_norm(x, layer.norm.gamma, layer.norm.beta, dtype=layer.precision)
    return ops.cast(linear(normed, layer.reduction.kernel, None, layer.precision), "float32")


def forward_features(
    backbone: SwinTransformer3D,
    video: Tensor,
    training: bool = False,
    channels_last: bool = False,
    on_output: OutputHook | None = None,
) -> Tensor:
    """The backbone output after its final norm, channels-last ``(B, T', H', W', 8C)``.

    ``on_output(name, tensor)`` receives every block's and stage's output by official module path,
    channels-first as the official modules return them.
    """
    seed = getattr(backbone, "seed_generator", None)
    x = patch_embed(video, backbone.patch_embed, channels_last)
    if on_output is not None:
        on_output("patch_embed", ops.transpose(x, (0, 4, 1, 2, 3)))
    for i, layer in enumerate(backbone.layers):
        hook = None
        if on_output is not None:
            hook = functools.partial(prefixed, on_output, f"layers.{i}.")
        x = basic_layer(x, layer, training, seed, hook)
        if on_output is not None:
            on_output(f"layers.{i}", ops.transpose(x, (0, 4, 1, 2, 3)))
    x = layer_norm(x, backbone.norm.gamma, backbone.norm.beta)
    if on_output is not None:
        on_output("norm", ops.transpose(x, (0, 4, 1, 2, 3)))
    return x


def output_size(size: Size3, patch_size: Size3, num_stages: int) -> Size3:
    """``(T', H', W')`` of the features for a clip of ``(T, H, W)`` frames (None stays None)."""

    def ceil_div(n: int | None, k: int) -> int | None:
        return None if n is None else -(-n // k)

    scale = 2 ** (num_stages - 1)
    t, h, w = (ceil_div(n, p) for n, p in zip(size, patch_size, strict=True))
    return t, ceil_div(h, scale), ceil_div(w, scale)


def prefixed(hook: OutputHook, prefix: str, name: str, value: Tensor) -> None:
    """``hook`` with ``prefix`` before every name (a stage's blocks report as ``layers.i.blocks.j``)."""
    hook(prefix + name, value)
