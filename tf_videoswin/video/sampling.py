"""Temporal sampling of the test pipelines: which frames make each clip.

- :func:`sample_test_clips`: ``SampleFrames._get_test_clips`` and ``SampleFrames.__call__``
  (``out_of_bound_opt='loop'``, ``start_index=0`` as ``VideoDataset`` sets it),
  ``mmaction/datasets/pipelines/loading.py`` of the official repository (mmaction 0.x);
- :func:`sample_test_clips_evenly`: the same transform in mmaction2 1.x
  (``mmaction/datasets/transforms/loading.py``), whose 3D test branch spreads the clips evenly;
- :func:`sample_frame_uniform` (SSv2): ``SampleFrames.get_seq_frames``, test-mode branch, official file.
"""

from __future__ import annotations

import numpy as np

from ..config import Preprocessing

VIEW_MODES = ("official", "single")


def sample_test_clips(num_frames: int, clip_len: int, frame_interval: int, num_clips: int) -> np.ndarray:
    """``[num_clips, clip_len]`` frame indices of mmaction's ``SampleFrames`` in test mode.

    ``avg_interval = (num_frames - clip_len * frame_interval + 1) / num_clips``. If
    ``num_frames > clip_len * frame_interval - 1``, clip ``i`` starts at
    ``int(i * avg_interval + avg_interval / 2)``, otherwise all clips start at 0. Clip indices are
    ``start + j * frame_interval``, taken modulo ``num_frames`` (``out_of_bound_opt='loop'``).
    """
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    ori_clip_len = clip_len * frame_interval
    avg_interval = (num_frames - ori_clip_len + 1) / float(num_clips)
    if num_frames > ori_clip_len - 1:
        offsets = (np.arange(num_clips) * avg_interval + avg_interval / 2.0).astype(np.int64)
    else:
        offsets = np.zeros(num_clips, dtype=np.int64)
    inds = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    return np.mod(inds, num_frames)  # out_of_bound_opt='loop'; start_index=0


def sample_test_clips_evenly(
    num_frames: int, clip_len: int, frame_interval: int, num_clips: int
) -> np.ndarray:
    """``[num_clips, clip_len]`` frame indices of mmaction2 1.x's ``SampleFrames`` in test mode (3D models).

    A clip spans ``span = (clip_len - 1) * frame_interval + 1`` frames; ``max_offset =
    max(num_frames - span, 0)``. With several clips, clip ``i`` starts at
    ``round(i * max_offset / (num_clips - 1))`` (NumPy's round-half-to-even), so the first starts at 0
    and the last ends at the last frame; one clip starts at ``max_offset // 2``. Indices
    ``start + j * frame_interval`` are taken modulo ``num_frames`` (``out_of_bound_opt='loop'``).
    """
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    max_offset = max(num_frames - ((clip_len - 1) * frame_interval + 1), 0)
    if num_clips > 1:
        offsets = np.round(np.arange(num_clips) * (max_offset / float(num_clips - 1))).astype(np.int64)
    else:
        offsets = np.array([max_offset // 2], dtype=np.int64)
    inds = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    return np.mod(inds, num_frames)


def sample_frame_uniform(num_frames: int, clip_len: int) -> np.ndarray:
    """``[1, clip_len]`` indices of ``SampleFrames(frame_uniform=True, test_mode=True)`` (SSv2).

    ``seg = (num_frames - 1) / clip_len``; segment ``i`` spans ``[round(seg * i), round(seg * (i + 1))]``
    with NumPy's round-half-to-even, and contributes its middle frame ``(start + end) // 2``.
    """
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    seg_size = float(num_frames - 1) / clip_len
    starts = [int(np.round(seg_size * i)) for i in range(clip_len)]
    ends = [int(np.round(seg_size * (i + 1))) for i in range(clip_len)]
    return np.array([[(s + e) // 2 for s, e in zip(starts, ends, strict=True)]], dtype=np.int64)


def frame_indices(num_frames: int, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """``[clips, clip_len]`` indices for a view mode (``single``: one clip, the variant's own formula)."""
    if pre.frame_uniform:
        return sample_frame_uniform(num_frames, pre.clip_len)
    num_clips = pre.num_clips if views == "official" else 1
    sample = sample_test_clips_evenly if pre.clip_starts == "evenly_spaced" else sample_test_clips
    return sample(num_frames, pre.clip_len, pre.frame_interval, num_clips)
