"""A video as a stream of snippet clips, in one decoding pass with memory bounded by one snippet window.

Frames are decoded in order; the frames some snippet takes (see :mod:`.snippets` for the conventions)
are converted, resized to the official short side and centre-cropped as they arrive, and dropped as
soon as no later snippet takes them. A snippet is emitted as soon as its last frame has been decoded,
so at most about ``span + stride`` cropped frames and one batch of clips are held, whatever the length
of the video.

Each clip goes through the official single-view steps (short side resize, centre crop, normalisation:
:func:`.views.clip_views`), so a snippet's clip is exactly what ``views='single'`` gives for the same
frames.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from fractions import Fraction

import numpy as np

from ..config import Preprocessing
from ..errors import VideoError
from .decode import DecodedFrame, iter_decoded, probe_video
from .snippets import (
    SnippetSpec,
    as_rate,
    grid_frame_needed,
    grid_indices_of_source,
    snippet_count,
    snippet_frame_indices,
    snippet_times,
)
from .transforms import center_crop_offset, rescale_size, resize_bilinear
from .views import clip_views

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SnippetTimeline:
    """When each snippet of a video starts and ends, and the frame grid they were cut from.

    Attributes:
        spec: the snippet spec used.
        source_frames: frames decoded from the video.
        source_fps: the container's average frame rate.
        fps: the rate of the grid (``spec.fps`` or ``source_fps``).
        grid_frames: frames of the grid (``source_frames`` without resampling).
        start, end: ``[n]`` seconds of each snippet (float64).
    """

    spec: SnippetSpec
    source_frames: int
    source_fps: Fraction
    fps: Fraction
    grid_frames: int
    start: np.ndarray
    end: np.ndarray

    @property
    def count(self) -> int:
        return len(self.start)

    @property
    def duration(self) -> float:
        """Seconds of video: ``source_frames / source_fps``."""
        return float(self.source_frames / self.source_fps)

    @classmethod
    def build(
        cls, spec: SnippetSpec, source_frames: int, source_fps: Fraction, grid_frames: int
    ) -> SnippetTimeline:
        fps = as_rate(spec.fps) if spec.fps is not None else source_fps
        start, end = snippet_times(grid_frames, fps, spec)
        return cls(spec, source_frames, source_fps, fps, grid_frames, start, end)


def crop_transform(pre: Preprocessing):
    """``rgb -> uint8 [crop, crop, 3]``: the official short-side resize, then the centre crop.

    Only the rows and columns of the crop are kept (a copy), so a held frame costs ``crop^2 * 3``
    bytes. The pixels equal ``resize_to_short_side`` followed by :func:`center_crop_offset`.
    """
    c = pre.crop_size

    def transform(rgb: np.ndarray) -> np.ndarray:
        h, w = rescale_size(rgb.shape[0], rgb.shape[1], pre.short_side)
        y, x = center_crop_offset(h, w, c)
        return np.ascontiguousarray(resize_bilinear(rgb, h, w)[y : y + c, x : x + c])

    return transform


class SnippetStream:
    """Batches of snippet clips ``float32 [B, 3, T, crop, crop]`` of one video, in snippet order.

    Iterate once; afterwards :attr:`timeline` holds every snippet's start and end. Usage::

        stream = SnippetStream("video.mp4", pre, SnippetSpec(frames=32, stride=16))
        pooled = np.concatenate([model(batch) for batch in stream])  # [n_snippets, C]
        stream.timeline.start, stream.timeline.end

    Args:
        path: a video file.
        pre: the export's preprocessing (short side, crop size, mean, std).
        spec: the snippet conventions.
        batch_size: snippets per yielded batch (the last batch may be smaller).
        backend: ``'pyav'`` or ``'decord'``.
    Raises (while iterating):
        VideoError: missing, empty or undecodable file, or no frame rate in the container.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        pre: Preprocessing,
        spec: SnippetSpec,
        batch_size: int = 4,
        backend: str = "pyav",
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.path, self.pre, self.spec = path, pre, spec
        self.batch_size, self.backend = batch_size, backend
        self.timeline: SnippetTimeline | None = None
        self.peak_frames_held = 0  # the most cropped frames held at once (tests check the bound)

    def __iter__(self) -> Iterator[np.ndarray]:
        spec = self.spec
        info = probe_video(self.path, self.backend)
        if info.fps is None:
            raise VideoError(f"{self.path}: the container has no frame rate; snippet times need one")
        source_fps = info.fps
        transform = crop_transform(self.pre)
        held: dict[int, np.ndarray] = {}  # grid index -> cropped uint8 frame
        pending: list[np.ndarray] = []  # clips of the next batch
        grid = 0  # grid frames assigned so far
        source = 0  # source frames decoded so far
        emitted = 0  # snippets emitted so far
        last: tuple[int, DecodedFrame] | None = None  # the newest grid frame, for the end padding

        def emit(indices: np.ndarray) -> Iterator[np.ndarray]:
            clip = np.stack([held[int(k)] for k in indices])[None]  # 1, T, c, c, 3 (already cropped)
            pending.append(clip_views(clip, self.pre, "single")[0])
            if len(pending) == self.batch_size:
                yield np.stack(pending)
                pending.clear()

        for frame in iter_decoded(self.path, self.backend):
            source = frame.index + 1
            ks = grid_indices_of_source(frame.index, source_fps, spec.fps)
            cropped = None
            for k in ks:
                if grid_frame_needed(k, spec):
                    if cropped is None:
                        cropped = transform(frame.rgb())
                    held[k] = cropped
            if len(ks):
                grid = ks[-1] + 1
                last = (ks[-1], frame)
            self.peak_frames_held = max(self.peak_frames_held, len({id(v) for v in held.values()}))
            # Every snippet whose last frame has arrived is complete (and in the final plan).
            while emitted * spec.stride + spec.span <= grid:
                start = emitted * spec.stride
                yield from emit(start + np.arange(spec.frames) * spec.frame_interval)
                emitted += 1
                for k in [k for k in held if k < emitted * spec.stride]:
                    del held[k]
        # The end of the video: the snippets that run past the last frame repeat it.
        count = snippet_count(grid, spec)
        if emitted < count:
            last_index, last_frame = last
            if last_index not in held:
                held[last_index] = transform(last_frame.rgb())
            indices = snippet_frame_indices(grid, spec)
            for i in range(emitted, count):
                yield from emit(indices[i])
        if pending:
            yield np.stack(pending)
            pending.clear()
        self.timeline = SnippetTimeline.build(spec, source, source_fps, grid)
        logger.debug("%s: %d snippets from %d frames", self.path, count, source)
