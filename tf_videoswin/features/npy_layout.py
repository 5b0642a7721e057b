"""The feature folder layout temporal-localization code reads: ``<video_id>.npy`` + ``<video_id>.json``.

ActionFormer, TriDet and their relatives (``libs/datasets/*.py``) load one NumPy file per video,
``feat_folder/<file_prefix><video_id><file_ext>``, a float32 ``[T, C]`` array of snippet features in
time order, and place feature ``i`` at ``(i * feat_stride + 0.5 * num_frames) / fps`` seconds using three
numbers of their config: ``feat_stride``, ``num_frames`` and the video's ``fps``. This module writes that
array (``pooled [n_snippets, C]``) and, next to it, a JSON file with those numbers and each snippet's
start and end, so a dataset config can be filled in without guessing:

- ``fps``: the rate of the frame grid (``--fps`` or the video's own);
- ``stride``: ActionFormer's ``feat_stride`` (grid frames between snippet starts);
- ``span_frames``: ActionFormer's ``num_frames`` (grid frames a snippet covers);
- ``snippet_start`` / ``snippet_end``: seconds, one per row of the ``.npy``.

``video_id`` is the file name without its extension (``video_validation_0000051.mp4`` ->
``video_validation_0000051``), the ids THUMOS14, ActivityNet and EPIC-Kitchens annotations use.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import FeatureStoreError
from ..files import atomic_write, atomic_write_text
from .results import SnippetFeatures

NPY_DIR = "_npy"


def video_id(path: str | os.PathLike) -> str:
    """The id of a video in the layout: its file name without the extension."""
    return Path(path).stem


def check_unique_ids(paths: Iterable[str | os.PathLike]) -> None:
    """Raise :class:`FeatureStoreError` if two videos share an id (same file name in two folders)."""
    by_id: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_id[video_id(path)].append(str(path))
    clashes = {k: v for k, v in by_id.items() if len(v) > 1}
    if clashes:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(clashes.items())[:5])
        raise FeatureStoreError(
            f"{len(clashes)} video id(s) name more than one video, but <video_id>.npy needs unique file "
            f"names: {listed}"
        )


class NpyLayout:
    """A folder of ``<video_id>.npy`` (float32 ``[n_snippets, C]``) and ``<video_id>.json`` files."""

    def __init__(self, folder: str | os.PathLike, variant: str) -> None:
        self.folder = Path(folder)
        self.variant = variant

    def check_owner(self, paths: Iterable[str | os.PathLike]) -> None:
        """Refuse videos whose id is already in the folder for another video path."""
        for path in paths:
            meta = self.folder / f"{video_id(path)}.json"
            if meta.is_file():
                owner = json.loads(meta.read_text(encoding="utf-8")).get("path")
                if owner != str(path):
                    raise FeatureStoreError(
                        f"{meta} holds the features of {owner}, not of {path} (same video id)"
                    )

    def write(self, result: SnippetFeatures) -> Path:
        """Write a video's ``.npy`` and ``.json``; returns the ``.npy`` path."""
        vid = video_id(result.path)
        t = result.timeline
        meta = {
            "video_id": vid,
            "path": result.path,
            "variant": self.variant,
            "feature_shape": list(result.pooled.shape),
            "fps": float(t.fps),
            "stride": t.spec.stride,
            "span_frames": t.spec.span,
            "snippet_frames": t.spec.frames,
            "frame_interval": t.spec.frame_interval,
            "resampled": t.spec.fps is not None,
            "source_fps": float(t.source_fps),
            "source_frames": t.source_frames,
            "grid_frames": t.grid_frames,
            "duration": t.duration,
            "snippet_start": t.start.tolist(),
            "snippet_end": t.end.tolist(),
        }
        target = self.folder / f"{vid}.npy"

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, result.pooled.astype(np.float32), allow_pickle=False)

        atomic_write(target, save)
        atomic_write_text(self.folder / f"{vid}.json", json.dumps(meta, indent=1) + "\n")
        return target
