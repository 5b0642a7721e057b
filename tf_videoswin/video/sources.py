"""Which videos to process: a file, several files, a directory or a text list of paths."""

from __future__ import annotations

import os
from pathlib import Path

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
