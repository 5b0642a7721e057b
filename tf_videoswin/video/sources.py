"""Which videos to process: video files, directories of videos and text lists of paths, mixed freely."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import VideoSourceError

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
    ".ts",
    ".mts",
    ".m2ts",
    ".vob",
    ".y4m",
)

#: Bytes of a list file inspected for binary content (a NUL byte) before it is read as text.
_SNIFF_BYTES = 8192


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` ends with one of :data:`VIDEO_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def list_videos(source: str | os.PathLike) -> list[Path]:
    """The videos of one source: a video file, a directory (recursive, sorted) or a text list of paths.

    A path with a video extension is a video, listed even if it does not exist (decoding it reports
    the error for that video alone). In a list file, blank lines and lines starting with ``#`` are
    skipped and relative paths are relative to the list file's folder.

    Args:
        source: a video file, a directory or a UTF-8 text file with one path per line.
    Returns:
        The video paths, in order.
    Raises:
        VideoSourceError: the source does not exist, or is a file that is neither a known video
            type nor a text list (e.g. a video with an unknown extension).
    """
    source = Path(source)
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.is_file() and is_video_file(p))
    if is_video_file(source):
        return [source]
    if not source.is_file():
        raise VideoSourceError(
            f"{source}: no such file or directory (expected a video, a directory or a list of paths)"
        )
    return _read_list(source)


def _read_list(source: Path) -> list[Path]:
    with open(source, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    known = ", ".join(VIDEO_EXTENSIONS)
    not_a_list = f"{source}: neither a video ({known}), a directory, nor a text list of video paths"
    if b"\0" in head:
        raise VideoSourceError(f"{not_a_list} (binary content)")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise VideoSourceError(f"{not_a_list} (not UTF-8 text: {e.reason} at byte {e.start})") from None
    base = source.parent
    return [
        Path(line) if os.path.isabs(line) else base / line
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def collect_videos(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """The videos of several sources (see :func:`list_videos`), in order, each path once.

    Args:
        sources: video files, directories and text lists, mixed.
    Returns:
        The video paths; a video named by two sources is listed once, where it first appears.
    Raises:
        VideoSourceError: a source is unusable (see :func:`list_videos`).
    """
    seen: set[str] = set()
    videos: list[Path] = []
    for source in sources:
        for video in list_videos(source):
            if str(video) not in seen:
                seen.add(str(video))
                videos.append(video)
    return videos
