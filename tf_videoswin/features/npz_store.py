"""The single ``.npz`` archive of tf_videoswin 0.2 (``extract_features --format npz``), for small sets.

``paths`` (video paths), ``pooled [N, C]`` (averaged over views), ``variant`` and, with feature maps,
``feature_maps [N, C, T', H', W']``. The whole file is rewritten at every flush (cost grows with the
number of videos already in it: use the Parquet folder for datasets); failures go to
``OUT.errors.json``. Local engine, one vector per video only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import FeatureStoreError
from ..files import atomic_write, atomic_write_text
from ..output_lock import OutputLock, lock_file_for, remove_stale
from .results import VideoFeatures


class NpzFeatureStore:
    """Rows keyed by video path, persisted to one ``.npz`` with atomic rewrites.

    Args:
        path: the ``.npz`` file.
        variant: the export's variant; an existing file of another variant is refused.
        feature_map: whether rows carry feature maps; an existing file that differs is refused
            (mixing would drop the maps already computed).
    Raises:
        FeatureStoreError: the file holds another variant, or differs in ``feature_map``.
    """

    def __init__(self, path: str | os.PathLike, variant: str, feature_map: bool = False) -> None:
        self.path = Path(path)
        self.variant = variant
        self.feature_map = feature_map
        self.lock = OutputLock(self.path, lock_file_for(self.path, inside=False))
        self._load()

    def _load(self) -> None:
        variant, feature_map = self.variant, self.feature_map
        self.paths: list[str] = []
        self.pooled: list[np.ndarray] = []
        self.maps: list[np.ndarray] = []
        if self.path.is_file():
            with np.load(self.path, allow_pickle=False) as data:
                if str(data["variant"]) != variant:
                    raise FeatureStoreError(f"{self.path} holds features of {data['variant']}, not {variant}")
                self.paths = [str(p) for p in data["paths"]]
                self.pooled = list(data["pooled"])
                self.maps = list(data["feature_maps"]) if "feature_maps" in data.files else []
        if self.paths and self.has_feature_maps != feature_map:
            have = "has" if self.has_feature_maps else "has no"
            raise FeatureStoreError(
                f"{self.path} {have} feature_maps; run with{'' if self.has_feature_maps else 'out'} "
                "--save-feature-map to extend it, or write to another --out"
            )
        self._seen = set(self.paths)
        self._pending = 0

    def open(self) -> NpzFeatureStore:
        """Become the file's only writer, and read what a run that ended meanwhile wrote.

        Raises:
            OutputBusyError: another live process writes this file.
        """
        self.lock.acquire()
        remove_stale(self.path.parent, [f".{self.path.name}.*.tmp", f".{self.errors_path.name}.*.tmp"])
        self._load()
        return self

    def close(self) -> None:
        self.lock.release()

    @property
    def has_feature_maps(self) -> bool:
        return bool(self.maps) and len(self.maps) == len(self.paths)

    def __contains__(self, video: str) -> bool:
        return str(video) in self._seen

    @property
    def pending_videos(self) -> int:
        return self._pending

    def add(self, result: VideoFeatures) -> None:
        self._seen.add(result.path)
        self.paths.append(result.path)
        self.pooled.append(result.pooled.astype(np.float32))
        if result.feature_map is not None:
            self.maps.append(result.feature_map.astype(np.float32))
        self._pending += 1

    def flush(self) -> None:
        """Rewrite the file (also an empty one, so a run always leaves its output)."""
        if not self._pending and self.path.exists():
            return
        arrays = {
            "paths": np.array(self.paths, dtype=str),
            "pooled": np.stack(self.pooled) if self.pooled else np.zeros((0, 0), np.float32),
            "variant": np.array(self.variant),
        }
        if self.has_feature_maps:
            arrays["feature_maps"] = np.stack(self.maps)

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic_write(self.path, save)
        self._pending = 0

    @property
    def errors_path(self) -> Path:
        return self.path.with_name(self.path.name + ".errors.json")

    def write_errors(self, errors: list[dict]) -> None:
        atomic_write_text(self.errors_path, json.dumps(errors, indent=2) + "\n")
