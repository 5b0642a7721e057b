"""What feature extraction computes for one video, in memory and as bytes (for Ray's transport).

- :class:`VideoFeatures`: one vector per video (``pooled [C]``, averaged over the views), optionally
  the feature map ``[C, T', H', W']`` averaged over the views;
- :class:`SnippetFeatures`: a sequence per video (``pooled [n, C]``), optionally the temporal tokens
  ``[n, T/2, C]`` (the feature map averaged over space only), and each snippet's start and end.

Both engines build these with the functions of :mod:`.compute` and hand them to the same store, so
their output files are identical.
"""

from __future__ import annotations

import dataclasses
import io
import json
from fractions import Fraction

import numpy as np

from ..video.snippet_stream import SnippetTimeline
from ..video.snippets import SnippetSpec


@dataclasses.dataclass(frozen=True)
class VideoFeatures:
    """Features of one video: ``pooled [C]`` and, when asked for, ``feature_map [C, T', H', W']``."""

    path: str
    pooled: np.ndarray
    feature_map: np.ndarray | None = None

    @property
    def count(self) -> int:
        """Rows this video gives: one."""
        return 1

    def to_bytes(self) -> bytes:
        arrays = {"pooled": self.pooled}
        if self.feature_map is not None:
            arrays["feature_map"] = self.feature_map
        return _pack({"kind": "video", "path": self.path}, arrays)


@dataclasses.dataclass(frozen=True)
class SnippetFeatures:
    """Features of one video's snippets: ``pooled [n, C]``, ``tokens [n, T/2, C]`` or None, the times."""

    path: str
    pooled: np.ndarray
    tokens: np.ndarray | None
    timeline: SnippetTimeline

    @property
    def count(self) -> int:
        """Rows this video gives: one per snippet."""
        return len(self.pooled)

    def to_bytes(self) -> bytes:
        t = self.timeline
        meta = {
            "kind": "snippets",
            "path": self.path,
            "spec": t.spec.to_dict(),
            "source_frames": t.source_frames,
            "source_fps": [t.source_fps.numerator, t.source_fps.denominator],
            "fps": [t.fps.numerator, t.fps.denominator],
            "grid_frames": t.grid_frames,
        }
        arrays = {"pooled": self.pooled, "start": t.start, "end": t.end}
        if self.tokens is not None:
            arrays["tokens"] = self.tokens
        return _pack(meta, arrays)


def _pack(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> VideoFeatures | SnippetFeatures:
    """The result that :meth:`VideoFeatures.to_bytes` or :meth:`SnippetFeatures.to_bytes` packed."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {k: data[k] for k in data.files if k != "meta"}
    if meta["kind"] == "video":
        return VideoFeatures(meta["path"], arrays["pooled"], arrays.get("feature_map"))
    timeline = SnippetTimeline(
        spec=SnippetSpec(**meta["spec"]),
        source_frames=meta["source_frames"],
        source_fps=Fraction(*meta["source_fps"]),
        fps=Fraction(*meta["fps"]),
        grid_frames=meta["grid_frames"],
        start=arrays["start"],
        end=arrays["end"],
    )
    return SnippetFeatures(meta["path"], arrays["pooled"], arrays.get("tokens"), timeline)
