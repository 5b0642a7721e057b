"""Decoding a video file into uint8 RGB frames (PyAV, or decord where installed)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..errors import VideoError
from ..optional import require
from .transforms import resize_to_short_side

logger = logging.getLogger(__name__)


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
    av = require("av", "decoding videos")

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
    decord = require("decord", "backend='decord'")
    try:
        reader = decord.VideoReader(str(path), num_threads=1)
        frames = []
        for i in range(len(reader)):
            rgb = reader[i].asnumpy()
            frames.append(rgb if short_side is None else resize_to_short_side(rgb, short_side))
    except Exception as e:  # decord raises its own error types
        raise VideoError(f"{path}: cannot decode ({type(e).__name__}: {e})") from e
    return frames
