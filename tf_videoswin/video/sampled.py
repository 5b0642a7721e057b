"""Reading only the sampled frames of a video: one streaming pass, memory independent of its length.

The official samplers need the frame count before they can say which frames a clip uses. It comes from
the container (or from demuxing, see :func:`.decode.probe_video`); the decoding pass then checks it. In
the rare case the decoder returns another number of frames (a damaged tail, an edit list), the indices
are recomputed from the decoded count and, if frames are missing, read in a second pass: the result is
always that of decoding every frame and sampling afterwards.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import numpy as np

from ..errors import VideoError
from .decode import FrameTransform, iter_frames, probe_video

logger = logging.getLogger(__name__)

#: ``indices_for(num_frames)``: integer frame indices of any shape (e.g. ``[clips, T]``).
IndexSampler = Callable[[int], np.ndarray]


def _keep(
    path: str | os.PathLike, wanted: set[int], transform: FrameTransform | None, backend: str
) -> tuple[dict[int, np.ndarray], int]:
    """The wanted frames (transformed) of one decoding pass, and the number of frames it decoded."""
    kept: dict[int, np.ndarray] = {}
    decoded = 0
    for index, frame in iter_frames(path, want=wanted.__contains__, transform=transform, backend=backend):
        decoded = index + 1
        if frame is not None:
            kept[index] = frame
    return kept, decoded


def read_sampled_frames(
    path: str | os.PathLike,
    indices_for: IndexSampler,
    transform: FrameTransform | None = None,
    backend: str = "pyav",
    num_frames: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The frames at ``indices_for(N)`` of a video of ``N`` frames, decoding it once.

    Args:
        path: a video file.
        indices_for: frame indices from the frame count, e.g.
            ``lambda n: frame_indices(n, pre, "official")``.
        transform: applied to each kept frame as it is decoded (e.g. the official resize), so only
            transformed frames are held.
        backend: ``'pyav'`` or ``'decord'``.
        num_frames: the frame count if already known (default: :func:`probe_video`).
    Returns:
        ``(indices, frames)``: the indices used (computed from the decoded frame count) and uint8
        ``frames`` of shape ``indices.shape + [H, W, 3]``.
    Raises:
        VideoError: the file is missing, empty, undecodable, or not deterministic between two passes.
    """
    expected = num_frames if num_frames is not None else probe_video(path, backend).num_frames
    indices = np.asarray(indices_for(expected))
    kept, decoded = _keep(path, set(np.unique(indices).tolist()), transform, backend)
    if decoded != expected:
        logger.info("%s: the container says %d frames, %d decoded; resampling", path, expected, decoded)
        indices = np.asarray(indices_for(decoded))
        needed = set(np.unique(indices).tolist())
        if not needed <= kept.keys():
            kept, again = _keep(path, needed, transform, backend)
            if again != decoded:
                raise VideoError(f"{path}: decoded {decoded} frames, then {again} on a second pass")
    frames = np.stack([kept[int(i)] for i in indices.ravel()])
    return indices, frames.reshape(indices.shape + frames.shape[1:])
