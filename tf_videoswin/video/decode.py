"""Decoding a video file, streamed: frames come out one by one, converted to RGB only when asked for.

- :func:`probe_video`: frame count and frame rate, from the container when it records them, counted
  by demuxing (reading packets without decoding them: milliseconds for thousands of frames) otherwise;
- :func:`iter_decoded` / :func:`iter_frames`: one decoding pass that yields every frame and converts
  to uint8 RGB (optionally transformed at once, e.g. resized) only the frames a caller wants, so
  memory holds only what the caller keeps;
- :func:`decode_video`: all frames as one array (small videos, notebooks).

PyAV is the default backend; ``backend='decord'`` uses the official decoder where it is installed.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import VideoError
from ..optional import require
from .transforms import resize_to_short_side

logger = logging.getLogger(__name__)

BACKENDS = ("pyav", "decord")

#: ``transform(rgb)`` applied to each wanted frame as soon as it is converted (e.g. a resize).
FrameTransform = Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video's first video stream, before decoding.

    ``num_frames`` is the container's frame count when it records one (mp4, avi) and the number of
    demuxed packets otherwise (mkv, webm); ``counted_by`` says which (``'container'``, ``'demux'``).
    Decoding can still return a different number (damaged files, edit lists): callers that need the
    exact count verify it against :func:`iter_frames` (see :mod:`.sampled`).
    ``fps`` is the average frame rate (``None`` when the container has none).
    """

    num_frames: int
    fps: Fraction | None
    width: int
    height: int
    counted_by: str

    @property
    def duration(self) -> float | None:
        """Seconds, as ``num_frames / fps`` (``None`` without a frame rate)."""
        return float(self.num_frames / self.fps) if self.fps else None


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def probe_video(path: str | os.PathLike, backend: str = "pyav") -> VideoInfo:
    """Frame count, frame rate and size of a video without decoding it.

    Args:
        path: a video file.
        backend: ``'pyav'`` or ``'decord'``.
    Returns:
        A :class:`VideoInfo`.
    Raises:
        VideoError: missing, empty or unreadable file, no video stream, or no frames.
    """
    path = Path(path)
    _check_file(path)
    _check_backend(backend)
    if backend == "decord":  # pragma: no cover - optional dependency
        reader = _open_decord(path)
        height, width = reader[0].shape[:2] if len(reader) else (0, 0)
        fps = Fraction(reader.get_avg_fps()).limit_denominator(1001) if reader.get_avg_fps() else None
        info = VideoInfo(len(reader), fps, width, height, "container")
    else:
        info = _probe_pyav(path)
    if info.num_frames < 1:
        raise VideoError(f"{path}: no frames")
    return info


def _probe_pyav(path: Path) -> VideoInfo:
    av = require("av", "decoding videos")
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            rate = stream.average_rate or stream.guessed_rate
            fps = Fraction(rate) if rate else None
            width, height = stream.codec_context.width, stream.codec_context.height
            if stream.frames > 0:
                return VideoInfo(int(stream.frames), fps, width, height, "container")
            return VideoInfo(_count_packets(container, stream, path), fps, width, height, "demux")
    except VideoError:
        raise
    except Exception as e:  # PyAV raises many error types for broken files
        raise VideoError(f"{path}: cannot read ({type(e).__name__}: {e})") from e


def _count_packets(container, stream, path: Path) -> int:
    """Video packets of the stream, read without decoding; up to the damage in a damaged file."""
    count = 0
    try:
        for packet in container.demux(stream):
            count += packet.size > 0
    except Exception as e:  # a damaged file: the decoding pass will check the count anyway
        if count == 0:
            raise
        logger.warning("%s: demuxing stopped after %d packets (%s: %s)", path, count, type(e).__name__, e)
    return count


def _video_stream(container, path: Path):
    if not container.streams.video:
        raise VideoError(f"{path}: no video stream")
    return container.streams.video[0]


class DecodedFrame:
    """A decoded frame before conversion: :meth:`rgb` converts it to uint8 RGB ``[H, W, 3]``.

    Converting (YUV to RGB and a copy) is most of the cost of a frame, so callers convert only the
    frames they use. A frame stays convertible after later frames are decoded.
    """

    __slots__ = ("_convert", "index", "path")

    def __init__(self, path: Path, index: int, convert: Callable[[], np.ndarray]) -> None:
        self.path, self.index, self._convert = path, index, convert

    def rgb(self) -> np.ndarray:
        """The frame's pixels, uint8 RGB ``[H, W, 3]``. Raises :class:`VideoError`."""
        try:
            return self._convert()
        except VideoError:
            raise
        except Exception as e:  # a frame the codec returned but cannot convert
            raise VideoError(
                f"{self.path}: cannot convert frame {self.index} ({type(e).__name__}: {e})"
            ) from e


def iter_decoded(path: str | os.PathLike, backend: str = "pyav") -> Iterator[DecodedFrame]:
    """One decoding pass over the first video stream: every frame, in order, not yet converted.

    A file whose tail does not decode (truncated download, damaged end) ends the iteration after the
    last good frame with a warning, as video players do.

    Args:
        path: a video file.
        backend: ``'pyav'`` or ``'decord'``.
    Raises:
        VideoError: missing, empty or undecodable file, or no frame decoded.
    """
    path = Path(path)
    _check_file(path)
    _check_backend(backend)
    count = 0
    for index, convert in _iter_decord(path) if backend == "decord" else _iter_pyav(path):
        count += 1
        yield DecodedFrame(path, index, convert)
    if count == 0:
        raise VideoError(f"{path}: no frames decoded")
    logger.debug("%s: decoded %d frames", path, count)


def iter_frames(
    path: str | os.PathLike,
    want: Callable[[int], bool] | None = None,
    transform: FrameTransform | None = None,
    backend: str = "pyav",
) -> Iterator[tuple[int, np.ndarray | None]]:
    """One decoding pass: ``(index, frame)`` for every frame of the first video stream, in order.

    ``frame`` is uint8 RGB ``[H, W, 3]`` (passed through ``transform``) when ``want(index)`` is true
    (every frame without ``want``), and ``None`` otherwise: unwanted frames are decoded (the codec
    needs them) but never converted. Nothing is kept between frames, so memory is what the caller
    keeps. A damaged tail ends the iteration as in :func:`iter_decoded`.

    Args:
        path: a video file.
        want: which frame indices to convert (default: all).
        transform: applied to each converted frame (e.g. :func:`resize_to_short_side`).
        backend: ``'pyav'`` or ``'decord'``.
    Raises:
        VideoError: missing, empty or undecodable file, or no frame decoded.
    """
    for frame in iter_decoded(path, backend):
        if want is not None and not want(frame.index):
            yield frame.index, None
            continue
        rgb = frame.rgb()
        yield frame.index, rgb if transform is None else transform(rgb)


def _iter_pyav(path: Path) -> Iterator[tuple[int, Callable[[], np.ndarray]]]:
    """``(index, convert)`` per decoded frame; ``convert()`` returns its RGB pixels."""
    av = require("av", "decoding videos")
    index = 0
    try:
        with av.open(str(path)) as container:
            stream = _video_stream(container, path)
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield index, lambda frame=frame: frame.to_ndarray(format="rgb24")
                index += 1
    except VideoError:
        raise
    except Exception as e:  # PyAV raises many error types for broken files
        if index == 0:
            raise VideoError(f"{path}: cannot decode ({type(e).__name__}: {e})") from e
        # A damaged tail: keep the frames that decoded, as video players do.
        logger.warning("%s: decoding stopped after %d frames (%s: %s)", path, index, type(e).__name__, e)


def _open_decord(path: Path):  # pragma: no cover - optional dependency
    decord = require("decord", "backend='decord'")
    try:
        return decord.VideoReader(str(path), num_threads=1)
    except Exception as e:  # decord raises its own error types
        raise VideoError(f"{path}: cannot decode ({type(e).__name__}: {e})") from e


def _iter_decord(path: Path) -> Iterator[tuple[int, Callable[[], np.ndarray]]]:  # pragma: no cover
    reader = _open_decord(path)
    for i in range(len(reader)):
        yield i, lambda i=i: _decord_frame(reader, i, path)


def _decord_frame(reader, index: int, path: Path) -> np.ndarray:  # pragma: no cover - optional
    try:
        return reader[index].asnumpy()
    except Exception as e:  # decord raises its own error types
        raise VideoError(f"{path}: cannot decode frame {index} ({type(e).__name__}: {e})") from e


def decode_video(path: str | os.PathLike, short_side: int | None = None, backend: str = "pyav") -> np.ndarray:
    """All frames of the first video stream as uint8 RGB ``[N, H, W, 3]``.

    Holds the whole video in memory: for long videos use :func:`tf_videoswin.video.load_views` or
    :func:`iter_frames`, which keep only the frames they use.

    With ``short_side``, every frame goes through :func:`resize_to_short_side` as soon as it is decoded:
    the official ``Resize`` done before instead of after frame sampling. It is a per-frame operation, so
    the pixels are the same.

    ``backend``: ``'pyav'`` (default) or ``'decord'`` (the official decoder; optional dependency).

    Raises:
        VideoError: the file is missing, empty, not a decodable video, or has no frames.
    """
    transform = None if short_side is None else (lambda rgb: resize_to_short_side(rgb, short_side))
    return np.stack([frame for _, frame in iter_frames(path, transform=transform, backend=backend)])
