"""The export format as code: ``videoswin_metadata.json``, one class for the writer and every reader.

An export folder (``exports/<variant>/``) holds the metadata file at its root and a copy in each
SavedModel folder, so a SavedModel copied on its own still describes itself. The file says what the
model is (architecture, labels, test pipeline), where it comes from (checkpoint URL and sha256, or the
fine-tuning run), how it was proven (parity figures) and which files make up the export (format,
precision, size, sha256, parity of each). A reader that meets a missing, corrupt, older or newer file
raises :class:`~tf_videoswin.errors.ExportFormatError`: it never guesses.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Preprocessing, VideoSwinConfig, check_attention_precision, check_precision
from ..errors import ExportFormatError

METADATA_FILE = "videoswin_metadata.json"
#: Version 1 (tf_videoswin 0.1) had no file list and kept the architecture under another layout.
SCHEMA_VERSION = 2
#: The two SavedModels of an export, by folder name.
EXPORT_KINDS = ("classifier", "feature_extractor")


@dataclasses.dataclass(frozen=True)
class ExportFile:
    """One file (or SavedModel folder) of an export."""

    path: str  # relative to the export root
    format: str  # savedmodel | keras | weights | preset | tflite | onnx | openvino
    sha256: str  # of the file, or of a folder's files (see files.sha256_tree)
    size_bytes: int
    kind: str = "model"  # classifier | feature_extractor | model (both outputs)
    precision: str = "float32"
    parity: dict[str, Any] = dataclasses.field(default_factory=dict)  # measured figures, per output
    details: dict[str, Any] = dataclasses.field(default_factory=dict)  # runtime, input shape, notes

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportFile:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass(frozen=True)
class ExportMetadata:
    """Everything a reader needs to use an export, and the evidence that it is right.

    ``variant`` is the registry name the weights come from (or the name given to a fine-tuned
    model); ``architecture`` is complete, so the Keras model can be rebuilt without the registry.
    """

    variant: str
    architecture: VideoSwinConfig
    preprocessing: Preprocessing
    labels: tuple[str, ...]
    dataset: str
    source: dict[str, Any]  # kind (converted|finetuned), repository, checkpoint_url, checkpoint_sha256, ...
    accuracy: dict[str, Any] | None = None  # top1, top5, source (published figures, not re-measured)
    parity: dict[str, Any] = dataclasses.field(default_factory=dict)  # ParityReport.as_dict() at export
    reload_max_abs: dict[str, float] = dataclasses.field(default_factory=dict)
    files: tuple[ExportFile, ...] = ()
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    precision: str = "float32"
    #: The dtype of the SavedModels' attention logits and softmax: float32, or ``precision`` (opt-in).
    attention_precision: str = "float32"
    #: For reduced precision: drift of the SavedModels' outputs from float32 (export.proof.drift).
    precision_drift: dict[str, Any] = dataclasses.field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.architecture.num_classes and len(self.labels) != self.architecture.num_classes:
            raise ExportFormatError(
                f"metadata of {self.variant} lists {len(self.labels)} labels for "
                f"{self.architecture.num_classes} classes"
            )

    # ------------------------------------------------------------------ derived, human-readable parts
    def contract(self) -> dict[str, Any]:
        """The input/output contract, written into the JSON for humans (readers recompute it)."""
        pre = self.preprocessing
        nf, nc = self.architecture.num_features, self.architecture.num_classes
        return {
            "input": {
                "name": "video",
                "shape": [None, 3, None, None, None],
                "layout": "NCTHW (channels-first)",
                "dtype": "float32",
                "normalization": {
                    "mean": list(pre.mean),
                    "std": list(pre.std),
                    "scale": "0-255",
                    "order": pre.channel_order,
                    "float32": "(x - mean) / std"
                    if pre.normalization == "divide_by_std"
                    else "(x - mean) * (1 / std)",
                },
            },
            "outputs": {
                "classifier": {
                    "__call__": f"logits [B, {nc}]",
                    "serving_default": {"logits": f"[B, {nc}]"},
                },
                "feature_extractor": {
                    "__call__": f"pooled [B, {nf}]",
                    "serving_default": {"features": f"[B, {nf}, T/2, H/32, W/32]", "pooled": f"[B, {nf}]"},
                },
            },
        }

    def file(self, path: str) -> ExportFile | None:
        return next((f for f in self.files if f.path == path), None)

    def with_files(self, *files: ExportFile) -> ExportMetadata:
        """A copy with ``files`` added (an entry with the same path is replaced)."""
        paths = {f.path for f in files}
        kept = tuple(f for f in self.files if f.path not in paths)
        return dataclasses.replace(self, files=kept + tuple(files))

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "format": "tf_videoswin export",
            "variant": self.variant,
            "architecture": self.architecture.to_dict(),
            "preprocessing": self.preprocessing.to_dict(),
            "dataset": self.dataset,
            "source": self.source,
            "accuracy": self.accuracy,
            "precision": self.precision,
            "attention_precision": self.attention_precision,
            "precision_drift": self.precision_drift,
            **self.contract(),
            "parity": self.parity,
            "reload_max_abs": self.reload_max_abs,
            "files": [dataclasses.asdict(f) for f in self.files],
            "labels": list(self.labels),
            "versions": self.versions,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], origin: str = "metadata") -> ExportMetadata:
        if not isinstance(data, Mapping):
            raise ExportFormatError(f"{origin}: expected a JSON object, got {type(data).__name__}")
        version = data.get("schema_version", data.get("format_version"))
        if not isinstance(version, int):
            raise ExportFormatError(f"{origin}: no schema_version; not a tf_videoswin export metadata file")
        if version > SCHEMA_VERSION:
            raise ExportFormatError(
                f"{origin}: schema version {version} is newer than this tf_videoswin reads "
                f"({SCHEMA_VERSION}); upgrade tf-videoswin"
            )
        if version < SCHEMA_VERSION:
            raise ExportFormatError(
                f"{origin}: schema version {version} was written by an older tf_videoswin; "
                "convert the checkpoint again (porting/convert.py --overwrite)"
            )
        required = ("variant", "architecture", "preprocessing", "labels", "dataset", "source")
        missing = [k for k in required if k not in data]
        if missing:
            raise ExportFormatError(f"{origin}: missing fields {missing}")
        try:
            return cls(
                variant=str(data["variant"]),
                architecture=VideoSwinConfig.from_dict(data["architecture"]),
                preprocessing=Preprocessing.from_dict(data["preprocessing"]),
                labels=tuple(str(label) for label in data["labels"]),
                dataset=str(data["dataset"]),
                source=dict(data["source"]),
                accuracy=data.get("accuracy"),
                parity=dict(data.get("parity") or {}),
                reload_max_abs=dict(data.get("reload_max_abs") or {}),
                files=tuple(ExportFile.from_dict(f) for f in data.get("files", ())),
                versions=dict(data.get("versions") or {}),
                precision=check_precision(str(data.get("precision", "float32"))),
                attention_precision=check_attention_precision(
                    str(data.get("attention_precision", "float32")), str(data.get("precision", "float32"))
                ),
                precision_drift=dict(data.get("precision_drift") or {}),
                schema_version=version,
            )
        except (TypeError, ValueError, AttributeError) as e:
            raise ExportFormatError(f"{origin}: invalid field ({e})") from e

    @classmethod
    def from_json(cls, text: str, origin: str = "metadata") -> ExportMetadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ExportFormatError(f"{origin}: not valid JSON ({e})") from e
        return cls.from_dict(data, origin)

    # ------------------------------------------------------------------ files on disk
    def write(self, export_dir: str | os.PathLike) -> None:
        """Write the metadata into the export root and into each SavedModel folder present."""
        export_dir = Path(export_dir)
        text = self.to_json()
        for folder in (export_dir, *(export_dir / kind for kind in EXPORT_KINDS)):
            if folder.is_dir():
                (folder / METADATA_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, path: str | os.PathLike) -> ExportMetadata:
        """The metadata of an export root, of one of its SavedModel folders, or of the JSON file itself.

        Raises:
            ExportFormatError: no metadata file, or one that is not valid for this version.
        """
        file = find_metadata_file(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ExportFormatError(f"{file}: cannot read ({e})") from e
        return cls.from_json(text, origin=str(file))


def runtime_versions(*distributions: str) -> dict[str, str]:
    """Installed versions of tf-videoswin, Python and the given distributions (those installed)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for dist in ("tf-videoswin", "tensorflow", "keras", "numpy", *distributions):
        try:
            found[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return found


def find_metadata_file(path: str | os.PathLike) -> Path:
    """``path`` itself, ``path/videoswin_metadata.json`` or the one in its parent folder."""
    path = Path(path)
    if path.is_file() and path.name == METADATA_FILE:
        return path
    for candidate in (path / METADATA_FILE, path.parent / METADATA_FILE):
        if candidate.is_file():
            return candidate
    if not path.exists():
        raise ExportFormatError(f"{path}: no such export folder")
    raise ExportFormatError(
        f"{path} has no {METADATA_FILE}: not an export written by tf_videoswin "
        "(porting/convert.py or tf_videoswin.finetune write one)"
    )
