"""Spatial transforms of the official test pipeline on uint8 RGB frames: resize, crops, normalisation.

- :func:`rescale_size`: ``Resize.__init__`` (``(-1, 224)`` becomes ``(inf, 224)``) and
  ``mmcv.rescale_size`` / ``_scale_size`` (``int(x * scale + 0.5)``);
- :func:`resize_bilinear`: ``mmcv.imresize(interpolation='bilinear')``, i.e. ``cv2.resize`` with
  ``INTER_LINEAR``, emulated in NumPy (no OpenCV or TensorFlow dependency);
- :func:`three_crop_offsets`: ``ThreeCrop.__call__``, ``mmaction/datasets/pipelines/augmentations.py``;
- :func:`normalize`: ``Normalize`` / ``mmcv.imnormalize_``, or mmaction2 1.x's ``ActionDataPreprocessor``.

mmaction2 1.x's ``Resize`` and ``ThreeCrop`` (``mmaction/datasets/transforms/processing.py``) are the
same code as the official ones, so these functions serve both pipelines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# cv2's 8-bit bilinear resize (imgproc/src/resize.cpp) uses 11-bit fixed-point weights.
_COEF_SCALE = 1 << 11


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


def normalize(
    frames: np.ndarray,
    mean: Sequence[float],
    std: Sequence[float],
    method: str = "multiply_inverse_std",
) -> np.ndarray:
    """``(x - mean) / std`` per RGB channel (last axis) on the 0-255 scale, float32.

    ``method``: ``multiply_inverse_std`` is ``mmcv.imnormalize_``'s arithmetic (subtract the mean,
    multiply by the inverse std; the official pipeline); ``divide_by_std`` is mmaction2 1.x's
    ``ActionDataPreprocessor`` (subtract the mean, divide by std, in float32). They differ by at most
    one float32 rounding step.
    """
    centred = frames.astype(np.float32) - np.asarray(mean, np.float32)
    if method == "divide_by_std":
        return centred / np.asarray(std, np.float32)
    if method != "multiply_inverse_std":
        raise ValueError(f"unknown normalization {method!r}")
    stdinv = (1.0 / np.asarray(std, np.float64)).astype(np.float32)
    return centred * stdinv
