"""The official Video Swin test pipeline, from a video file to ``[views, 3, T, 224, 224]``.

Reproduces mmaction2's pipeline as configured by SwinTransformer/Video-Swin-Transformer
(``configs/recognition/swin/*.py``, ``test_pipeline``):

- ``SampleFrames(clip_len=32, frame_interval=2, num_clips=4, test_mode=True)`` (Kinetics):
  ``_get_test_clips`` offsets, out-of-bound indices looped (``% num_frames``);
  ``frame_uniform=True`` (SSv2): ``get_seq_frames`` in test mode (middle of each segment);
- ``Resize(scale=(-1, 224))``: short side to 224 keeping the aspect ratio, sizes rounded as
  ``mmcv.rescale_size`` (``int(x * s + 0.5)``), bilinear;
- ``ThreeCrop(224)``: left, right, middle (landscape) or top, bottom, middle (portrait);
- ``Normalize(mean, std, to_bgr=False)`` and ``FormatShape('NCTHW')``: views ordered crop-major
  (all clips of crop 0, then crop 1, ...).

Resizing uses ``tf.image.resize`` (bilinear, half-pixel centres, no antialiasing, rounded back to
uint8) instead of OpenCV's ``INTER_LINEAR``: the same interpolation, pixel values may differ by a
rounding step.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .variants import Preprocessing

logger = logging.getLogger(__name__)

VIEW_MODES = ("official", "single")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".gif")


class VideoError(RuntimeError):
    """A video that cannot be used: missing, unreadable or without frames."""


def decode_video(path: str | os.PathLike) -> np.ndarray:
    """All frames of the first video stream as uint8 RGB ``[N, H, W, 3]`` (PyAV)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream")
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    except VideoError:
        raise
    except Exception as e:  # PyAV raises many error types for broken files
        raise VideoError(f"{path}: cannot decode ({type(e).__name__}: {e})") from e
    if not frames:
        raise VideoError(f"{path}: no frames decoded")
    return np.stack(frames)


def sample_test_clips(num_frames: int, clip_len: int, frame_interval: int, num_clips: int) -> np.ndarray:
    """``[num_clips, clip_len]`` frame indices of mmaction's ``SampleFrames`` in test mode."""
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    ori_clip_len = clip_len * frame_interval
    avg_interval = (num_frames - ori_clip_len + 1) / float(num_clips)
    if num_frames > ori_clip_len - 1:
        offsets = (np.arange(num_clips) * avg_interval + avg_interval / 2.0).astype(np.int64)
    else:
        offsets = np.zeros(num_clips, dtype=np.int64)
    inds = offsets[:, None] + np.arange(clip_len)[None, :] * frame_interval
    return np.mod(inds, num_frames)  # out_of_bound_opt='loop'


def sample_frame_uniform(num_frames: int, clip_len: int) -> np.ndarray:
    """``[1, clip_len]`` indices of ``SampleFrames(frame_uniform=True, test_mode=True)`` (SSv2)."""
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    seg_size = float(num_frames - 1) / clip_len
    starts = [int(np.round(seg_size * i)) for i in range(clip_len)]
    ends = [int(np.round(seg_size * (i + 1))) for i in range(clip_len)]
    return np.array([[(s + e) // 2 for s, e in zip(starts, ends, strict=True)]], dtype=np.int64)


def rescale_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """``(new_h, new_w)`` of ``Resize(scale=(-1, short_side))`` (``mmcv.rescale_size`` rounding)."""
    scale = short_side / min(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def three_crop_offsets(height: int, width: int, crop: int) -> list[tuple[int, int]]:
    """``(y, x)`` of ``ThreeCrop``: left, right, middle for landscape; top, bottom, middle for portrait."""
    if height == crop:
        step = (width - crop) // 2
        return [(0, 0), (0, 2 * step), (0, step)]
    if width == crop:
        step = (height - crop) // 2
        return [(0, 0), (2 * step, 0), (step, 0)]
    raise ValueError(f"ThreeCrop needs one side equal to the crop size, got {height}x{width} for {crop}")


def center_crop_offset(height: int, width: int, crop: int) -> tuple[int, int]:
    """``(y, x)`` of mmaction's ``CenterCrop``."""
    return (height - crop) // 2, (width - crop) // 2


def normalize(frames: np.ndarray, mean, std) -> np.ndarray:
    """``(x - mean) / std`` per RGB channel on the 0-255 scale, float32."""
    return (frames.astype(np.float32) - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)


def resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of uint8 ``[N, H, W, 3]`` frames, rounded back to uint8."""
    if frames.shape[1:3] == (height, width):
        return frames
    import tensorflow as tf

    out = tf.image.resize(frames, (height, width), method="bilinear", antialias=False)
    return np.clip(np.round(out.numpy()), 0, 255).astype(np.uint8)


def frame_indices(num_frames: int, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """``[clips, clip_len]`` indices for a view mode (``single``: one clip, the official formula)."""
    num_clips = pre.num_clips if views == "official" else 1
    if pre.frame_uniform:
        return sample_frame_uniform(num_frames, pre.clip_len)
    return sample_test_clips(num_frames, pre.clip_len, pre.frame_interval, num_clips)


def make_views(frames: np.ndarray, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """Decoded uint8 frames -> float32 ``[V, 3, T, crop, crop]``, normalised, ordered crop-major.

    ``official``: ``num_clips`` clips x three crops of the short-side-resized frames.
    ``single``: one clip and one centre crop (fast, for previews).
    """
    if views not in VIEW_MODES:
        raise ValueError(f"views must be one of {VIEW_MODES}, got {views!r}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise VideoError(f"expected frames [N, H, W, 3] with N >= 1, got {frames.shape}")
    inds = frame_indices(len(frames), pre, views)  # clips, T
    used, inverse = np.unique(inds, return_inverse=True)
    h, w = rescale_size(frames.shape[1], frames.shape[2], pre.short_side)
    resized = resize_frames(frames[used], h, w)[inverse.reshape(inds.shape)]  # clips, T, h, w, 3
    if views == "official":
        offsets = three_crop_offsets(h, w, pre.crop_size)
    else:
        offsets = [center_crop_offset(h, w, pre.crop_size)]
    c = pre.crop_size
    crops = np.stack([resized[:, :, y : y + c, x : x + c] for y, x in offsets])  # crops, clips, T, c, c, 3
    crops = normalize(crops, pre.mean, pre.std)
    crops = crops.reshape((-1, *crops.shape[2:]))  # crop-major views
    return np.ascontiguousarray(crops.transpose(0, 4, 1, 2, 3))


def load_views(path: str | os.PathLike, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """Decode a video and return its test views ``[V, 3, T, crop, crop]``."""
    return make_views(decode_video(path), pre, views)


def list_videos(source: str | os.PathLike) -> list[Path]:
    """Videos of a directory (recursive, sorted) or of a text file with one path per line."""
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
    if source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()
        base = source.parent
        return [
            (base / line.strip()) if not os.path.isabs(line.strip()) else Path(line.strip())
            for line in lines
            if line.strip() and not line.lstrip().startswith("#")
        ]
    raise FileNotFoundError(f"{source}: neither a directory of videos nor a list file")
