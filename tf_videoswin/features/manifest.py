"""``_manifest.json``: what a feature folder holds, one class for the writer and every reader.

A feature folder (``extract_features --out DIR``) is written by several runs (resuming, adding
videos). Its manifest fixes what every row means: the export's variant, the mode (one vector per video
or snippets), the views or the snippet conventions, the optional columns. A run whose options differ
from the manifest is refused instead of mixing rows; a missing, corrupt or newer manifest is an error,
never a guess.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import FeatureStoreError
from ..files import atomic_write_text

FORMAT = "tf_videoswin.features"
SCHEMA_VERSION = 1
MANIFEST_FILE = "_manifest.json"
MODES = ("video", "snippets")


@dataclasses.dataclass(frozen=True)
class FeatureManifest:
    """The contract of a feature folder's rows.

    Attributes:
        variant: the export's variant (also a column of every row).
        mode: ``'video'`` (one row per video) or ``'snippets'`` (one row per snippet).
        views: ``'single'`` or ``'official'`` (mode ``video``).
        feature_map: rows carry ``feature_map`` and ``feature_map_shape`` (mode ``video``).
        snippets: the :class:`~tf_videoswin.video.SnippetSpec` as a dict (mode ``snippets``).
        tokens: rows carry ``tokens [T/2][C]`` (mode ``snippets``).
        preprocessing: the export's test pipeline (resize, crop, mean, std), for the record.
    """

    variant: str
    mode: str
    views: str | None = None
    feature_map: bool = False
    snippets: dict[str, Any] | None = None
    tokens: bool = False
    preprocessing: dict[str, Any] = dataclasses.field(default_factory=dict)
    format: str = FORMAT
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise FeatureStoreError(f"feature mode must be one of {MODES}, got {self.mode!r}")

    @property
    def columns(self) -> list[str]:
        """The Parquet columns of every row, in order."""
        if self.mode == "video":
            extra = ["feature_map", "feature_map_shape"] if self.feature_map else []
            return ["path", "variant", "pooled", *extra]
        extra = ["tokens"] if self.tokens else []
        return ["path", "variant", "snippet_index", "snippet_start", "snippet_end", "pooled", *extra]

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "columns": self.columns}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "manifest") -> FeatureManifest:
        if data.get("format") != FORMAT:
            raise FeatureStoreError(f"{source}: not a tf_videoswin feature manifest")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise FeatureStoreError(
                f"{source}: schema version {version}, this tf_videoswin reads version {SCHEMA_VERSION}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def differences(self, other: FeatureManifest) -> list[str]:
        """``'field: mine != other'`` for every field that differs."""
        mine, theirs = dataclasses.asdict(self), dataclasses.asdict(other)
        return [f"{k}: {mine[k]!r} != {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]

    def write(self, folder: Path) -> None:
        atomic_write_text(folder / MANIFEST_FILE, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, folder: Path) -> FeatureManifest:
        """The manifest of a feature folder. Raises :class:`FeatureStoreError` if missing or unreadable."""
        path = folder / MANIFEST_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FeatureStoreError(
                f"{folder}: no {MANIFEST_FILE}; not a tf_videoswin feature folder"
            ) from None
        except (OSError, ValueError) as e:
            raise FeatureStoreError(f"{path}: unreadable ({e})") from e
        return cls.from_dict(data, str(path))
