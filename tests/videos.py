"""Small real video files for tests: a coloured square moving across a dark background."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def moving_square_frames(
    frames: int,
    height: int,
    width: int,
    color=(230, 60, 40),
    seed: int = 0,
    motion: str = "right",
    background=(0, 0, 0),
) -> np.ndarray:
    """A square of ``color`` moving ``right`` (left to right), ``left`` or staying ``still`` (centre),
    on dark noise added to a ``background`` colour (each channel at most 215)."""
    rng = np.random.default_rng(seed)
    video = rng.integers(0, 40, (frames, height, width, 3), dtype=np.uint8) + np.asarray(background, np.uint8)
    side = max(4, min(height, width) // 4)
    for t in range(frames):
        x = int((width - side) * t / max(frames - 1, 1))
        x = {"right": x, "left": width - side - x, "still": (width - side) // 2}[motion]
        video[t, height // 3 : height // 3 + side, x : x + side] = color
    return video


def write_video(path: Path, frames: int = 48, height: int = 64, width: int = 80, fps: int = 24, **kw) -> Path:
    """An mpeg4 ``.mp4`` written with PyAV."""
    import av

    data = moving_square_frames(frames, height, width, **kw)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in data:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
