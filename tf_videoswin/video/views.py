"""Test views: sampled clips x crops, normalised, channels-first ``[V, 3, T, crop, crop]``.

:func:`make_views` follows ``ThreeCrop``, which lists all frames of crop 0, then crop 1, then crop 2,
and ``FormatShape('NCTHW')``, which reshapes that to ``[crops, clips, ...]``: views are crop-major.
"""

from __future__ import annotations

import os

import numpy as np

from ..config import Preprocessing
from ..errors import VideoError
from .sampled import read_sampled_frames
from .sampling import VIEW_MODES, frame_indices
from .transforms import (
    center_crop_offset,
    normalize,
    rescale_size,
    resize_bilinear,
    resize_to_short_side,
    three_crop_offsets,
)


def make_views(frames: np.ndarray, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """Decoded uint8 RGB frames ``[N, H, W, 3]`` -> float32 ``[V, 3, T, crop, crop]``.

    ``official``: ``V = 3 * num_clips`` (Kinetics 12, SSv2 3), crop-major as in mmaction: view ``k`` is
    crop ``k // num_clips`` (left/top, right/bottom, middle) of clip ``k % num_clips``.
    ``single``: one clip (``num_clips=1`` sampling: the middle of the video) and one centre crop.
    Frames already resized to the short side pass through the resize unchanged.
    """
    _check_mode(views)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise VideoError(f"expected frames [N, H, W, 3] with N >= 1, got {frames.shape}")
    inds = frame_indices(len(frames), pre, views)  # clips, T
    used, inverse = np.unique(inds, return_inverse=True)
    h, w = rescale_size(frames.shape[1], frames.shape[2], pre.short_side)
    clips = resize_bilinear(frames[used], h, w)[inverse.reshape(inds.shape)]  # clips, T, h, w, 3
    return clip_views(clips, pre, views)


def clip_views(clips: np.ndarray, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """Sampled clips, resized to the short side, uint8 ``[clips, T, h, w, 3]`` -> ``[V, 3, T, c, c]``.

    The crop, normalisation and layout steps of :func:`make_views` (``ThreeCrop`` or one centre crop,
    ``Normalize``, ``FormatShape('NCTHW')``, crop-major).
    """
    _check_mode(views)
    h, w = clips.shape[2:4]
    if views == "official":
        offsets = three_crop_offsets(h, w, pre.crop_size)
    else:
        offsets = [center_crop_offset(h, w, pre.crop_size)]
    c = pre.crop_size
    out = np.empty((len(offsets) * len(clips), 3, clips.shape[1], c, c), dtype=np.float32)
    for k, (y, x) in enumerate(offsets):  # crop-major: all clips of crop 0, then crop 1, ...
        crop = normalize(clips[:, :, y : y + c, x : x + c], pre.mean, pre.std, pre.normalization)
        out[k * len(clips) : (k + 1) * len(clips)] = crop.transpose(0, 4, 1, 2, 3)
    return out


def load_views(
    path: str | os.PathLike, pre: Preprocessing, views: str = "official", backend: str = "pyav"
) -> np.ndarray:
    """Decode a video and return its test views ``[V, 3, T, crop, crop]``. Raises :class:`VideoError`.

    Streams: one decoding pass keeps only the sampled frames, resized as they are decoded, so memory
    does not grow with the video's length. The result equals ``make_views(decode_video(path,
    short_side=pre.short_side), pre, views)`` bit for bit (see :mod:`.sampled` for the frame count).
    """
    _check_mode(views)
    _, clips = read_sampled_frames(
        path,
        lambda num_frames: frame_indices(num_frames, pre, views),
        transform=lambda rgb: resize_to_short_side(rgb, pre.short_side),
        backend=backend,
    )
    return clip_views(clips, pre, views)


def _check_mode(views: str) -> None:
    if views not in VIEW_MODES:
        raise ValueError(f"views must be one of {VIEW_MODES}, got {views!r}")
