"""The official Video Swin *training* pipeline, as pure functions of an explicit NumPy ``Generator``.

Follows ``train_pipeline`` of SwinTransformer/Video-Swin-Transformer (commit db018fb,
``configs/recognition/swin/*.py``) and the mmaction 0.x code it runs::

    Kinetics: SampleFrames(clip_len=32, frame_interval=2, num_clips=1) -> Resize(scale=(-1, 256))
              -> RandomResizedCrop -> Resize((224, 224), keep_ratio=False) -> Flip(flip_ratio=0.5)
              -> Normalize -> FormatShape('NCTHW')
    SSv2:     SampleFrames(..., frame_uniform=True) -> Resize(-1, 256) -> RandomResizedCrop
              -> Resize((224, 224), keep_ratio=False) -> Flip(flip_ratio=0)
              -> Imgaug(RandAugment(n=4, m=7)) -> Normalize -> RandomErasing(probability=0.25)

- :func:`sample_train_clips`: ``SampleFrames._get_train_clips`` (random offset) and ``__call__``
  (``out_of_bound_opt='loop'``), ``mmaction/datasets/pipelines/loading.py``;
- :func:`sample_frame_uniform_train`: ``SampleFrames.get_seq_frames``, training branch (a random frame
  of each of ``clip_len`` equal segments);
- :func:`random_resized_crop_box`: ``RandomResizedCrop.get_crop_bbox`` (area 0.08-1, aspect 3/4-4/3,
  10 attempts, then the centre square), ``mmaction/datasets/pipelines/augmentations.py``;
- :func:`random_erasing_box`: timm's ``RandomErasing`` as mmaction's wrapper applies it (``mode='const'``:
  zeros after normalisation; area 0.02-1/3, aspect 0.3-1/0.3, one box, 10 attempts; the same box on
  every frame, because the wrapper restores the RNG state before each frame).

Not applied: ``Imgaug(RandAugment(n=4, m=7))`` of the SSv2 recipe. It is imgaug's policy (its own op set
and magnitude scale), applied identically to every frame of a clip. No dependency of this package
offers it: ``keras.layers.RandAugment`` is a different op set whose parameters are drawn per image, so
the frames of one clip would be augmented differently. :data:`RANDAUGMENT_SUPPORTED` says so in code.

Randomness comes only from the ``numpy.random.Generator`` passed in, so a clip is a pure function of
its frames, the pipeline and the generator's seed (fine-tuning seeds one generator per sample from the
run seed, the epoch and the sample's position: a resumed run sees the same clips).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import numpy as np

from ..config import MEAN_RGB, STD_RGB
from .decode import decode_video
from .transforms import normalize, resize_bilinear

#: imgaug's RandAugment (the SSv2 recipe) has no temporally consistent implementation here.
RANDAUGMENT_SUPPORTED = False


@dataclasses.dataclass(frozen=True)
class TrainPipeline:
    """Parameters of the training pipeline (defaults: the Kinetics recipe at 32x224x224)."""

    clip_len: int = 32
    frame_interval: int = 2
    num_clips: int = 1
    frame_uniform: bool = False
    short_side: int = 256
    crop_size: int = 224
    area_range: tuple[float, float] = (0.08, 1.0)
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)
    flip_ratio: float = 0.5
    random_erasing: float = 0.0  # probability (SSv2: 0.25)
    mean: tuple[float, float, float] = MEAN_RGB
    std: tuple[float, float, float] = STD_RGB

    def __post_init__(self) -> None:
        if min(self.clip_len, self.frame_interval, self.num_clips, self.short_side, self.crop_size) < 1:
            raise ValueError(f"clip sizes must be >= 1: {self}")
        if not (0.0 <= self.flip_ratio <= 1.0 and 0.0 <= self.random_erasing <= 1.0):
            raise ValueError("flip_ratio and random_erasing are probabilities in [0, 1]")

    def replace(self, **changes: Any) -> TrainPipeline:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainPipeline:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def sample_train_clips(
    num_frames: int, clip_len: int, frame_interval: int, num_clips: int, rng: np.random.Generator
) -> np.ndarray:
    """``[num_clips, clip_len]`` frame indices of mmaction's ``SampleFrames`` in training mode.

    ``avg_interval = (num_frames - clip_len * frame_interval + 1) // num_clips``. If positive, clip
    ``i`` starts at ``i * avg_interval + randint(avg_interval)``; else, if the video is longer than
    both ``num_clips`` and the clip span, the starts are sorted ``randint(num_frames - span + 1)``;
    else, if ``avg_interval == 0``, they are ``around(i * (num_frames - span + 1) / num_clips)``; else
    all 0. Indices ``start + j * frame_interval`` loop modulo ``num_frames``.
    """
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    span = clip_len * frame_interval
    avg_interval = (num_frames - span + 1) // num_clips
    if avg_interval > 0:
        offsets = np.arange(num_clips) * avg_interval + rng.integers(avg_interval, size=num_clips)
    elif num_frames > max(num_clips, span):
        offsets = np.sort(rng.integers(num_frames - span + 1, size=num_clips))
    elif avg_interval == 0:
        ratio = (num_frames - span + 1.0) / num_clips
        offsets = np.around(np.arange(num_clips) * ratio)
    else:
        offsets = np.zeros(num_clips)
    inds = offsets.astype(np.int64)[:, None] + np.arange(clip_len)[None, :] * frame_interval
    return np.mod(inds, num_frames)


def sample_frame_uniform_train(num_frames: int, clip_len: int, rng: np.random.Generator) -> np.ndarray:
    """``[1, clip_len]`` indices of ``SampleFrames(frame_uniform=True)`` in training mode (SSv2).

    ``seg = (num_frames - 1) / clip_len``; segment ``i`` spans ``[round(seg * i), round(seg * (i + 1))]``
    (NumPy rounding) and contributes a uniformly drawn frame of that closed range.
    """
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    seg_size = float(num_frames - 1) / clip_len
    starts = np.array([int(np.round(seg_size * i)) for i in range(clip_len)])
    ends = np.array([int(np.round(seg_size * (i + 1))) for i in range(clip_len)])
    return rng.integers(starts, ends, endpoint=True)[None, :].astype(np.int64)


def train_frame_indices(num_frames: int, pipeline: TrainPipeline, rng: np.random.Generator) -> np.ndarray:
    """``[clips, clip_len]`` training indices for the pipeline's sampling (frame-uniform or offsets)."""
    if pipeline.frame_uniform:
        return sample_frame_uniform_train(num_frames, pipeline.clip_len, rng)
    return sample_train_clips(num_frames, pipeline.clip_len, pipeline.frame_interval, pipeline.num_clips, rng)


def random_resized_crop_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    area_range: tuple[float, float] = (0.08, 1.0),
    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3),
    max_attempts: int = 10,
) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` of mmaction's ``RandomResizedCrop.get_crop_bbox``.

    Draws ``max_attempts`` aspect ratios (log-uniform) and areas (uniform fraction of the frame) at
    once; the first candidate ``round(sqrt(area * ratio))`` wide and ``round(sqrt(area / ratio))`` high
    that fits is placed uniformly. If none fits, the centre square of the short side.
    """
    if not 0 < area_range[0] <= area_range[1] <= 1:
        raise ValueError(f"area_range must satisfy 0 < low <= high <= 1, got {area_range}")
    if not 0 < aspect_ratio_range[0] <= aspect_ratio_range[1]:
        raise ValueError(f"aspect_ratio_range must satisfy 0 < low <= high, got {aspect_ratio_range}")
    area = height * width
    log_ratios = np.log(np.asarray(aspect_ratio_range, np.float64))
    ratios = np.exp(rng.uniform(log_ratios[0], log_ratios[1], size=max_attempts))
    areas = rng.uniform(area_range[0], area_range[1], size=max_attempts) * area
    widths = np.round(np.sqrt(areas * ratios)).astype(np.int32)
    heights = np.round(np.sqrt(areas / ratios)).astype(np.int32)
    for crop_w, crop_h in zip(widths.tolist(), heights.tolist(), strict=True):
        if crop_h <= height and crop_w <= width:
            x = int(rng.integers(0, width - crop_w, endpoint=True))
            y = int(rng.integers(0, height - crop_h, endpoint=True))
            return x, y, x + crop_w, y + crop_h
    side = min(height, width)
    x, y = (width - side) // 2, (height - side) // 2
    return x, y, x + side, y + side


def random_erasing_box(
    height: int,
    width: int,
    rng: np.random.Generator,
    probability: float,
    area_range: tuple[float, float] = (0.02, 1 / 3),
    min_aspect: float = 0.3,
    max_attempts: int = 10,
) -> tuple[int, int, int, int] | None:
    """``(top, left, h, w)`` of timm's ``RandomErasing`` (one box, ``mode='const'``), or None.

    With probability ``probability``: up to ``max_attempts`` draws of an area (uniform fraction of the
    frame) and an aspect ratio (log-uniform in ``[min_aspect, 1 / min_aspect]``); the first box
    ``round(sqrt(area * ratio))`` high and ``round(sqrt(area / ratio))`` wide that is strictly smaller
    than the frame is placed uniformly.
    """
    if rng.random() >= probability:
        return None
    area = height * width
    log_aspect = (math.log(min_aspect), math.log(1 / min_aspect))
    for _ in range(max_attempts):
        target = rng.uniform(*area_range) * area
        ratio = math.exp(rng.uniform(*log_aspect))
        h = round(math.sqrt(target * ratio))  # Python's round: half to even, an int
        w = round(math.sqrt(target / ratio))
        if w < width and h < height:
            top = int(rng.integers(0, height - h, endpoint=True))
            left = int(rng.integers(0, width - w, endpoint=True))
            return top, left, h, w
    return None


def make_train_clip(frames: np.ndarray, pipeline: TrainPipeline, rng: np.random.Generator) -> np.ndarray:
    """Decoded uint8 RGB frames ``[N, H, W, 3]`` (already at the short side) -> float32 ``[3, T, c, c]``.

    Sampling, random resized crop, resize to ``crop_size`` square (``keep_ratio=False``), flip,
    normalisation and random erasing, in the official order. For ``num_clips > 1`` the clips are
    concatenated along T, as mmaction's ``FormatShape`` does before the model sees them.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"expected frames [N, H, W, 3] with N >= 1, got {frames.shape}")
    inds = train_frame_indices(len(frames), pipeline, rng).reshape(-1)
    clip = frames[inds]
    height, width = clip.shape[1:3]
    left, top, right, bottom = random_resized_crop_box(
        height, width, rng, pipeline.area_range, pipeline.aspect_ratio_range
    )
    c = pipeline.crop_size
    clip = resize_bilinear(clip[:, top:bottom, left:right], c, c)
    if rng.random() < pipeline.flip_ratio:
        clip = clip[:, :, ::-1]
    out = normalize(clip, pipeline.mean, pipeline.std)  # T, c, c, 3
    if pipeline.random_erasing > 0:
        box = random_erasing_box(c, c, rng, pipeline.random_erasing)
        if box is not None:
            y, x, h, w = box
            out[:, y : y + h, x : x + w, :] = 0.0
    return np.ascontiguousarray(out.transpose(3, 0, 1, 2))


def load_train_clip(path: str | os.PathLike, pipeline: TrainPipeline, rng: np.random.Generator) -> np.ndarray:
    """Decode a video (resized to the short side as it decodes) and return one training clip.

    Raises:
        VideoError: the file is missing, empty or not decodable.
    """
    return make_train_clip(decode_video(path, short_side=pipeline.short_side), pipeline, rng)
