"""The official Video Swin test pipeline, from a video file to ``[views, 3, T, 224, 224]``.

Reproduces mmaction2's pipeline as configured by SwinTransformer/Video-Swin-Transformer (commit db018fb,
``configs/recognition/swin/*.py``, ``test_pipeline``)::

    DecordInit -> SampleFrames(clip_len=32, frame_interval=2, num_clips=4 | frame_uniform, test_mode=True)
    -> DecordDecode -> Resize(scale=(-1, 224)) -> ThreeCrop(crop_size=224) -> Flip(flip_ratio=0)
    -> Normalize(mean, std, to_bgr=False) -> FormatShape('NCTHW')

Each step is a pure function naming the upstream code it follows:

- :func:`sample_test_clips`: ``SampleFrames._get_test_clips`` and ``SampleFrames.__call__``
  (``out_of_bound_opt='loop'``, ``start_index=0`` as ``VideoDataset`` sets it),
  ``mmaction/datasets/pipelines/loading.py``;
- :func:`sample_frame_uniform` (SSv2): ``SampleFrames.get_seq_frames``, test-mode branch, same file;
- :func:`rescale_size`: ``Resize.__init__`` (``(-1, 224)`` becomes ``(inf, 224)``) and
  ``mmcv.rescale_size`` / ``_scale_size`` (``int(x * scale + 0.5)``);
- :func:`resize_bilinear`: ``mmcv.imresize(interpolation='bilinear')``, i.e. ``cv2.resize`` with
  ``INTER_LINEAR``, emulated in NumPy (no OpenCV or TensorFlow dependency);
- :func:`three_crop_offsets`: ``ThreeCrop.__call__``, ``mmaction/datasets/pipelines/augmentations.py``;
- :func:`normalize`: ``Normalize`` / ``mmcv.imnormalize_``;
- :func:`make_views`: ``ThreeCrop`` lists all frames of crop 0, then crop 1, then crop 2, and
  ``FormatShape('NCTHW')`` reshapes that to ``[crops, clips, ...]``: views are crop-major.

Decoding uses PyAV; the official pipeline uses decord, whose frame count and YUV->RGB conversion can
differ slightly on some files (``decode_video(..., backend='decord')`` uses it when it is installed).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .variants import Preprocessing

logger = logging.getLogger(__name__)

VIEW_MODES = ("official", "single")
VIDEO_EXTENSIONS = (
    ".mp4",
    ".avi",
    ".mkv",
    ".mov",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".gif",
    ".flv",
    ".wmv",
    ".3gp",
    ".ogv",
)

# cv2's 8-bit bilinear resize (imgproc/src/resize.cpp) uses 11-bit fixed-point weights.
_COEF_SCALE = 1 << 11


class VideoError(RuntimeError):
    """A video that cannot be used: missing, empty, unreadable or without frames.

    The message starts with the file's path and says why.
    """


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def decode_video(path: str | os.PathLike, short_side: int | None = None, backend: str = "pyav") -> np.ndarray:
    """All frames of the first video stream as uint8 RGB ``[N, H, W, 3]``.

    With ``short_side``, every frame goes through :func:`resize_to_short_side` as soon as it is decoded:
    the official ``Resize`` done before instead of after frame sampling. It is a per-frame operation, so
    the pixels are the same, and memory stays small for long or high-resolution videos.

    ``backend``: ``'pyav'`` (default) or ``'decord'`` (the official decoder; optional dependency).

    Raises:
        VideoError: the file is missing, empty, not a decodable video, or has no frames.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    if backend == "pyav":
        frames = _decode_pyav(path, short_side)
    elif backend == "decord":
        frames = _decode_decord(path, short_side)
    else:
        raise ValueError(f"backend must be 'pyav' or 'decord', got {backend!r}")
    if not frames:
        raise VideoError(f"{path}: no frames decoded")
    logger.debug("%s: decoded %d frames", path, len(frames))
    return np.stack(frames)


def _decode_pyav(path: Path, short_side: int | None) -> list[np.ndarray]:
    import av

    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                frames.append(rgb if short_side is None else resize_to_short_side(rgb, short_side))
    except VideoError:
        raise
    except Exception as e:  # PyAV raises many error types for broken files
        if not frames:
            raise VideoError(f"{path}: cannot decode ({type(e).__name__}: {e})") from e
        # A damaged tail: keep the frames that decoded, as video players do.
        logger.warning(
            "%s: decoding stopped after %d frames (%s: %s)", path, len(frames), type(e).__name__, e
        )
    return frames


def _decode_decord(path: Path, short_side: int | None) -> list[np.ndarray]:  # pragma: no cover - optional
    try:
        import decord
    except ImportError as e:
        raise ImportError("backend='decord' needs the optional package decord (pip install decord)") from e
    try:
        reader = decord.VideoReader(str(path), num_threads=1)
        frames = []
        for i in range(len(reader)):
            rgb = reader[i].asnumpy()
            frames.append(rgb if short_side is None else resize_to_short_side(rgb, short_side))
    except Exception as e:  # decord raises its own error types
        raise VideoError(f"{path}: cannot decode ({type(e).__name__}: {e})") from e
    return frames


# --------------------------------------------------------------------------------------------------
# Temporal sampling
# --------------------------------------------------------------------------------------------------


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
    """``[clips, clip_len]`` indices for a view mode (``single``: one clip, the official formula)."""
    if pre.frame_uniform:
        return sample_frame_uniform(num_frames, pre.clip_len)
    num_clips = pre.num_clips if views == "official" else 1
    return sample_test_clips(num_frames, pre.clip_len, pre.frame_interval, num_clips)


# --------------------------------------------------------------------------------------------------
# Spatial transforms
# --------------------------------------------------------------------------------------------------


def rescale_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """``(new_h, new_w)`` of ``Resize(scale=(-1, short_side))``.

    mmaction turns the scale into ``(inf, short_side)``; ``mmcv.rescale_size`` takes
    ``scale = min(inf / long_side, short_side / short_side_of_frame)`` and rounds each side as
    ``int(side * scale + 0.5)``.
    """
    if height < 1 or width < 1:
        raise ValueError(f"invalid frame size {height}x{width}")
    scale = min(math.inf / max(height, width), short_side / min(height, width))
    return int(height * scale + 0.5), int(width * scale + 0.5)


def _linear_taps(
    src: int, dst: int, clamp_weights: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices ``i0, i1`` and 11-bit weights ``w0, w1`` of cv2's INTER_LINEAR along one axis.

    Sample ``d`` reads ``(d + 0.5) * src / dst - 0.5`` (float32). Horizontally cv2 moves taps that fall
    outside the image onto the edge pixel with weights (1, 0) (``clamp_weights``); vertically it keeps
    the fractional weights and only clips the row indices.
    """
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * (src / dst) - 0.5).astype(np.float32)
    i0 = np.floor(pos).astype(np.int64)
    frac = (pos - i0.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        below, above = i0 < 0, i0 >= src - 1
        i0[below], frac[below] = 0, 0.0
        i0[above], frac[above] = src - 1, 0.0
    i1 = np.clip(i0 + 1, 0, src - 1)
    i0 = np.clip(i0, 0, src - 1)
    # saturate_cast<short>(float) rounds half to even, as np.rint does.
    w0 = np.rint((np.float32(1.0) - frac) * np.float32(_COEF_SCALE)).astype(np.int32)
    w1 = np.rint(frac * np.float32(_COEF_SCALE)).astype(np.int32)
    return i0, i1, w0, w1


def resize_bilinear(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize uint8 ``[..., H, W, C]`` images like ``cv2.resize(img, (width, height), INTER_LINEAR)``.

    A NumPy emulation of OpenCV's 8-bit bilinear path, so there is no OpenCV dependency: half-pixel
    centres, no antialiasing, 11-bit fixed-point weights, a horizontal then a vertical pass with cv2's
    integer rounding. It reproduced ``cv2.resize`` (opencv-python-headless 4.14) bit for bit on 400
    random size pairs, up and down. OpenCV's special cases (IPP/OpenCL builds, exact 2x up- or
    downscaling shortcuts) may still differ by one grey level. (``tf.image.resize(method='bilinear',
    antialias=False)`` computes the same interpolation in float and differs by 1 on ~13% of pixels.)
    """
    if frames.dtype != np.uint8:
        raise TypeError(f"resize_bilinear expects uint8 frames, got {frames.dtype}")
    if frames.ndim < 3:
        raise ValueError(f"expected frames [..., H, W, C], got shape {frames.shape}")
    h, w, c = frames.shape[-3:]
    if (h, w) == (height, width):
        return frames.copy()
    x_taps = _linear_taps(w, width, clamp_weights=True)
    y_taps = _linear_taps(h, height, clamp_weights=False)
    flat = frames.reshape((-1, h, w, c))
    out = np.empty((len(flat), height, width, c), dtype=np.uint8)
    for i, image in enumerate(flat):  # one image at a time keeps the int32 temporaries small
        out[i] = _resize_one(image, x_taps, y_taps)
    return out.reshape((*frames.shape[:-3], height, width, c))


def _resize_one(image: np.ndarray, x_taps: tuple, y_taps: tuple) -> np.ndarray:
    x0, x1, wx0, wx1 = x_taps
    y0, y1, wy0, wy1 = y_taps
    # Only the source rows that the vertical pass reads go through the horizontal pass.
    rows, inverse = np.unique(np.concatenate([y0, y1]), return_inverse=True)
    r0, r1 = inverse[: len(y0)], inverse[len(y0) :]
    src = image[rows]
    # Horizontal pass (HResizeLinear): sums scaled by 2^11, kept as S >> 4 for the vertical pass.
    horiz = src[:, x0].astype(np.int32) * wx0[:, None] + src[:, x1].astype(np.int32) * wx1[:, None]
    horiz >>= 4
    # Vertical pass (VResizeLinear<uchar>): ((b0 * S0) >> 16) + ((b1 * S1) >> 16), then (+ 2) >> 2.
    out = ((wy0[:, None, None] * horiz[r0]) >> 16) + ((wy1[:, None, None] * horiz[r1]) >> 16)
    out += 2
    out >>= 2
    return np.clip(out, 0, 255).astype(np.uint8)


def resize_to_short_side(frames: np.ndarray, short_side: int) -> np.ndarray:
    """The official ``Resize(scale=(-1, short_side))`` of uint8 ``[..., H, W, 3]`` frames."""
    height, width = rescale_size(frames.shape[-3], frames.shape[-2], short_side)
    return resize_bilinear(frames, height, width)


def three_crop_offsets(height: int, width: int, crop: int) -> list[tuple[int, int]]:
    """``(y, x)`` corners of ``ThreeCrop(crop)``, in the official order.

    ``height == crop`` (landscape or square): left, right, middle at ``x = 0, 2 * step, step`` with
    ``step = (width - crop) // 2`` ("right" is one pixel short of the edge when ``width - crop`` is
    odd). ``width == crop`` (portrait): top, bottom, middle at ``y = 0, 2 * step, step``.
    """
    if height == crop:
        step = (width - crop) // 2
        return [(0, 0), (0, 2 * step), (0, step)]
    if width == crop:
        step = (height - crop) // 2
        return [(0, 0), (2 * step, 0), (step, 0)]
    raise ValueError(f"ThreeCrop needs one side equal to the crop size, got {height}x{width} for {crop}")


def center_crop_offset(height: int, width: int, crop: int) -> tuple[int, int]:
    """``(y, x)`` of mmaction's ``CenterCrop``: ``((height - crop) // 2, (width - crop) // 2)``."""
    if height < crop or width < crop:
        raise ValueError(f"cannot crop {crop}x{crop} out of {height}x{width}")
    return (height - crop) // 2, (width - crop) // 2


def normalize(frames: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(x - mean) * (1 / std)`` per RGB channel (last axis) on the 0-255 scale, float32.

    Same arithmetic as ``mmcv.imnormalize_`` (subtract the mean, multiply by the inverse std).
    """
    stdinv = (1.0 / np.asarray(std, np.float64)).astype(np.float32)
    return (frames.astype(np.float32) - np.asarray(mean, np.float32)) * stdinv


# --------------------------------------------------------------------------------------------------
# Views
# --------------------------------------------------------------------------------------------------


def make_views(frames: np.ndarray, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """Decoded uint8 RGB frames ``[N, H, W, 3]`` -> float32 ``[V, 3, T, crop, crop]``.

    ``official``: ``V = 3 * num_clips`` (Kinetics 12, SSv2 3), crop-major as in mmaction: view ``k`` is
    crop ``k // num_clips`` (left/top, right/bottom, middle) of clip ``k % num_clips``.
    ``single``: one clip (``num_clips=1`` sampling: the middle of the video) and one centre crop.
    Frames already resized to the short side pass through the resize unchanged.
    """
    if views not in VIEW_MODES:
        raise ValueError(f"views must be one of {VIEW_MODES}, got {views!r}")
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise VideoError(f"expected frames [N, H, W, 3] with N >= 1, got {frames.shape}")
    inds = frame_indices(len(frames), pre, views)  # clips, T
    used, inverse = np.unique(inds, return_inverse=True)
    h, w = rescale_size(frames.shape[1], frames.shape[2], pre.short_side)
    clips = resize_bilinear(frames[used], h, w)[inverse.reshape(inds.shape)]  # clips, T, h, w, 3
    if views == "official":
        offsets = three_crop_offsets(h, w, pre.crop_size)
    else:
        offsets = [center_crop_offset(h, w, pre.crop_size)]
    c = pre.crop_size
    out = np.empty((len(offsets) * len(clips), 3, inds.shape[1], c, c), dtype=np.float32)
    for k, (y, x) in enumerate(offsets):  # crop-major: all clips of crop 0, then crop 1, ...
        crop = normalize(clips[:, :, y : y + c, x : x + c], pre.mean, pre.std)  # clips, T, c, c, 3
        out[k * len(clips) : (k + 1) * len(clips)] = crop.transpose(0, 4, 1, 2, 3)
    return out


def load_views(path: str | os.PathLike, pre: Preprocessing, views: str = "official") -> np.ndarray:
    """Decode a video and return its test views ``[V, 3, T, crop, crop]``. Raises :class:`VideoError`."""
    return make_views(decode_video(path, short_side=pre.short_side), pre, views)


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends with one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def list_videos(source: str | os.PathLike) -> list[Path]:
    """Videos of a directory (recursive, sorted) or of a text file with one path per line.

    In a list file, blank lines and lines starting with ``#`` are skipped and relative paths are
    relative to the list file's folder.
    """
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and is_video_file(p))
    if source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()
        base = source.parent
        return [
            (base / line.strip()) if not os.path.isabs(line.strip()) else Path(line.strip())
            for line in lines
            if line.strip() and not line.lstrip().startswith("#")
        ]
    raise FileNotFoundError(f"{source}: neither a directory of videos nor a list file")
