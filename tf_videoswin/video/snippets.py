"""Snippets for temporal localization: which frames make each snippet, and when each starts and ends.

Pure functions, the conventions in one place (docs/videos.md, "Snippet features", says the same):

- **Frame grid.** Without a target rate the grid is the video's own frames at the container's average
  frame rate. With ``fps``, the video is resampled first: grid frame ``k`` (time ``k / fps``) is the
  source frame on screen at that time, ``floor(k * source_fps / fps)``, and the grid has
  ``ceil(num_frames * fps / source_fps)`` frames (every grid time before the end of the video).
  Timestamps are frame index / rate (constant frame rate), not packet timestamps.
- **Snippet.** Snippet ``i`` starts at grid frame ``i * stride`` and gives the model ``frames`` frames
  taken every ``frame_interval`` grid frames (default 1: consecutive frames, as temporal-localization
  feature sets do; 2 is the official training interval of the Kinetics models). It spans
  ``span = frames * frame_interval`` grid frames: ``[start, start + span)``.
- **Count and the end of the video.** Snippets start at ``0, stride, 2 * stride, ...`` until one
  reaches the last frame: ``n = max(1, min(ceil(N / stride), ceil((N - span) / stride) + 1))`` for a
  grid of ``N`` frames. Every frame is in a snippet (when ``stride <= span``) and every snippet starts
  inside the video. The last snippet may run past the end: its missing frames repeat the last frame
  (edge padding); a video shorter than one span gives one padded snippet.
- **Times.** ``start_i = i * stride / rate`` and ``end_i = min(start + span, N) / rate`` seconds: the end
  of the last snippet is the end of the video, not of its padding.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np


@dataclasses.dataclass(frozen=True)
class SnippetSpec:
    """How a video is cut into snippets (see the module docstring for the conventions).

    Attributes:
        frames: frames per snippet given to the model (``T``).
        stride: grid frames between the starts of consecutive snippets.
        frame_interval: grid frames between two frames of a snippet.
        fps: resample the video to this rate first; ``None``: the video's own frames and rate.
    """

    frames: int = 32
    stride: int = 16
    frame_interval: int = 1
    fps: float | None = None

    def __post_init__(self) -> None:
        for name in ("frames", "stride", "frame_interval"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"snippet {name} must be >= 1, got {getattr(self, name)}")
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"snippet fps must be > 0, got {self.fps}")

    @property
    def span(self) -> int:
        """Grid frames covered by one snippet: ``frames * frame_interval``."""
        return self.frames * self.frame_interval

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def as_rate(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction (``29.97`` -> ``2997/100``, ``Fraction(30000, 1001)`` kept)."""
    if isinstance(fps, Fraction):
        return fps
    return Fraction(str(fps))


def grid_frame_count(num_frames: int, source_fps: Fraction | float, fps: Fraction | float | None) -> int:
    """Frames of the grid: ``num_frames`` without resampling, else ``ceil(num_frames * fps / source_fps)``."""
    if num_frames < 1:
        raise ValueError("num_frames must be >= 1")
    if fps is None:
        return num_frames
    return math.ceil(num_frames * as_rate(fps) / as_rate(source_fps))


def grid_source_indices(
    num_grid: int, source_fps: Fraction | float, fps: Fraction | float | None
) -> np.ndarray:
    """``[num_grid]`` source frame of each grid frame ``k``: ``floor(k * source_fps / fps)``.

    The identity without ``fps``.
    """
    if fps is None:
        return np.arange(num_grid, dtype=np.int64)
    ratio = as_rate(source_fps) / as_rate(fps)
    return np.array([k * ratio.numerator // ratio.denominator for k in range(num_grid)], dtype=np.int64)


def grid_indices_of_source(
    source_index: int, source_fps: Fraction | float, fps: Fraction | float | None
) -> range:
    """Grid frames that show source frame ``source_index``: ``k`` with ``floor(k * ratio) == source_index``.

    Empty when resampling down skips the frame; several when resampling up repeats it.
    """
    if fps is None:
        return range(source_index, source_index + 1)
    inverse = as_rate(fps) / as_rate(source_fps)  # grid frames per source frame
    return range(math.ceil(source_index * inverse), math.ceil((source_index + 1) * inverse))


def snippet_count(num_grid: int, spec: SnippetSpec) -> int:
    """Snippets of a grid of ``N`` frames: ``max(1, min(ceil(N/stride), ceil((N - span)/stride) + 1))``."""
    if num_grid < 1:
        raise ValueError("num_grid must be >= 1")
    reach_end = -((spec.span - num_grid) // spec.stride) + 1  # ceil((N - span) / stride) + 1
    return max(1, min(-(-num_grid // spec.stride), reach_end))


def snippet_starts(num_grid: int, spec: SnippetSpec) -> np.ndarray:
    """``[n]`` first grid frame of each snippet: ``i * stride``."""
    return np.arange(snippet_count(num_grid, spec), dtype=np.int64) * spec.stride


def snippet_frame_indices(num_grid: int, spec: SnippetSpec) -> np.ndarray:
    """``[n, frames]`` grid frames of each snippet, ``start + j * frame_interval``, clipped to ``N - 1``."""
    offsets = np.arange(spec.frames, dtype=np.int64) * spec.frame_interval
    return np.minimum(snippet_starts(num_grid, spec)[:, None] + offsets[None, :], num_grid - 1)


def snippet_times(num_grid: int, rate: Fraction | float, spec: SnippetSpec) -> tuple[np.ndarray, np.ndarray]:
    """``(start, end)`` seconds of each snippet (float64): ``start / rate``, ``min(start + span, N) / rate``.

    Args:
        num_grid: frames of the grid.
        rate: the grid's frame rate.
        spec: the snippet conventions.
    """
    rate = as_rate(rate)
    starts = snippet_starts(num_grid, spec)
    ends = np.minimum(starts + spec.span, num_grid)
    to_seconds = np.vectorize(lambda frame: float(Fraction(int(frame)) / rate), otypes=[np.float64])
    return to_seconds(starts), to_seconds(ends)


def grid_frame_needed(index: int, spec: SnippetSpec) -> bool:
    """Whether some snippet takes grid frame ``index`` (false for frames skipped by the interval or stride).

    Looks only at full snippets; the frame a padded last snippet repeats is the caller's to keep.
    """
    first = max(0, (index - spec.span) // spec.stride)
    for i in range(first, index // spec.stride + 1):
        offset = index - i * spec.stride
        if 0 <= offset < spec.span and offset % spec.frame_interval == 0:
            return True
    return False
