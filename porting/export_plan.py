"""What an export holds, checked when it is asked for: :class:`ExportPlan`, and the plan against an
export folder that already exists (:func:`plan_export`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tf_videoswin.config import check_attention_precision, check_precision
from tf_videoswin.errors import ExportFormatError
from tf_videoswin.export.deploy.targets import (
    DEFAULT_DEPLOY_SHAPE,
    DEPLOY_FORMATS,
    DEPLOY_PRECISIONS,
    check_tflite_precisions,
    plan_targets,
)
from tf_videoswin.export.keras_files import KERAS_FORMATS
from tf_videoswin.export.metadata import ExportMetadata
from tf_videoswin.export.writer import SAVEDMODEL
from tf_videoswin.variants import VariantConfig

#: Formats ``convert`` can write. The SavedModels are always written: they are the export.
FORMATS = (SAVEDMODEL, *KERAS_FORMATS, *DEPLOY_FORMATS)
#: What each deployment format needs installed, to be written and then proven in its runtime(s).
DEPLOY_DEPENDENCIES = {
    "tflite": ("ai_edge_litert.interpreter",),
    "onnx": ("tf2onnx", "onnx", "onnxruntime", "openvino"),
    "openvino": ("tf2onnx", "onnx", "openvino"),
}
#: What a plan does about the export folder: write it, or leave it (already up to date).
ACTIONS = ("write", "skip")


def normalize_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    """Requested formats, validated, SavedModel first (always written), duplicates removed."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f == SAVEDMODEL or f in formats)


def check_deploy_shape(shape: Sequence[int]) -> tuple[int, int, int, int, int]:
    """A deployment clip shape: five positive integers ``B,3,T,H,W``, or ``ValueError``."""
    shape = tuple(shape)
    if len(shape) != 5 or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in shape
    ):
        raise ValueError(f"deploy shape must be five integers B,3,T,H,W, got {shape}")
    if shape[1] != 3:
        raise ValueError(f"deploy shape must have 3 (RGB) channels at the second place, got {shape}")
    if min(shape) < 1:
        raise ValueError(f"deploy shape sizes must be positive, got {shape}")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def require_deploy_dependencies(formats: Sequence[str]) -> None:
    """Import every converter and runtime the deployment ``formats`` need, before any long work.

    Raises:
        MissingDependencyError: one is missing (the message names it and the ``deploy`` extra).
    """
    from tf_videoswin.optional import require

    for fmt in formats:
        for module in DEPLOY_DEPENDENCIES.get(fmt, ()):
            require(module, f"writing and checking {fmt} files")


@dataclasses.dataclass(frozen=True)
class ExportPlan:
    """What to export, every field checked when the plan is built (``ValueError`` otherwise).

    Args:
        formats: files to write besides the SavedModels (``keras``, ``weights``, ``preset``, ``tflite``,
            ``onnx``, ``openvino``; a list or a comma-separated string); normalised SavedModel first.
        deploy_shape: ``B,3,T,H,W`` clip shape of the deployment files (TFLite: fixed; ONNX and
            OpenVINO: fixed T, H, W and a dynamic batch); checked when a deployment format is asked for.
        precision: what the SavedModels and Keras files compute in (``float32``, ``bfloat16``, ``float16``).
        attention_precision: ``float32`` or ``precision``: the dtype of the attention logits and softmax.
        tflite_precisions: the TFLite files' precisions (``float32``, ``float16``, ``int8``).
        overwrite: replace an export made from another checkpoint or precision.
        action: ``"write"``, or ``"skip"`` once :func:`plan_export` found the export up to date.
        existing: the metadata of the export already in the folder, once planned against it.
    """

    formats: tuple[str, ...] | str = (SAVEDMODEL,)
    deploy_shape: tuple[int, ...] = DEFAULT_DEPLOY_SHAPE
    precision: str = "float32"
    attention_precision: str = "float32"
    tflite_precisions: tuple[str, ...] = DEPLOY_PRECISIONS["tflite"]
    overwrite: bool = False
    action: str = "write"
    existing: ExportMetadata | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        def put(name: str, value) -> None:
            object.__setattr__(self, name, value)

        put("formats", normalize_formats(self.formats))
        put("precision", check_precision(self.precision))
        put("attention_precision", check_attention_precision(self.attention_precision, self.precision))
        put("tflite_precisions", check_tflite_precisions(self.tflite_precisions))
        put("deploy_shape", tuple(self.deploy_shape))
        if self.deploy_formats:
            put("deploy_shape", check_deploy_shape(self.deploy_shape))
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, got {self.action!r}")

    @property
    def deploy_formats(self) -> tuple[str, ...]:
        """The deployment formats among :attr:`formats`."""
        return tuple(f for f in self.formats if f in DEPLOY_FORMATS)

    def deploy_paths(self, name: str) -> frozenset[str]:
        """The deployment files of the plan, by their path in the export of variant ``name``."""
        targets = plan_targets(self.deploy_formats, self.deploy_shape, True, self.tflite_precisions)
        return frozenset(t.filename(name) for t in targets)

    def replace(self, **changes) -> ExportPlan:
        """A copy with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)


def existing_export(target: Path, overwrite: bool = False) -> ExportMetadata | None:
    """The metadata of an export already at ``target``; ``None`` when there is none (or it is to be replaced).

    Raises:
        FileExistsError: ``target`` exists, holds no valid export of this version, and not ``overwrite``.
    """
    if not target.exists():
        return None
    try:
        return ExportMetadata.read(target)
    except ExportFormatError as e:
        if overwrite:
            return None
        raise FileExistsError(
            f"{target} exists and is not an export of this tool or of this version ({e}); "
            "pass --overwrite to replace it"
        ) from None


def plan_export(
    existing: ExportMetadata | None,
    cfg: VariantConfig,
    sha256: str,
    plan: ExportPlan,
    target: Path | None = None,
) -> ExportPlan:
    """``plan`` against the export already in the folder ``target`` (metadata ``existing``).

    Up to date (same checkpoint and precisions, every requested format present, and every deployment
    file of the plan, at its shape and precisions): skip. Same checkpoint with formats or files missing:
    rewrite it with the union of formats and of TFLite precisions (the requested ones and those of the
    TFLite files it holds). Another checkpoint or precision: only with ``overwrite``.

    Raises:
        FileExistsError: the folder holds an export of another checkpoint and not ``plan.overwrite``.
    """
    if existing is None:
        return plan.replace(action="write", existing=None)
    same = (
        existing.source.get("checkpoint_sha256") == sha256
        and existing.variant == cfg.name
        and existing.precision == plan.precision
        and existing.attention_precision == plan.attention_precision
    )
    root = target if target is not None else Path()
    present = [f for f in existing.files if target is None or (root / f.path).exists()]
    have = {f.format for f in present}
    wanted = plan.deploy_paths(cfg.name)
    if same and set(plan.formats) <= have and wanted <= {f.path for f in present}:
        return plan.replace(action="skip", existing=existing)
    if same:  # same weights, more formats or files: rewrite the export with all of them
        held = {f.precision for f in present if f.format == "tflite"}
        both = check_tflite_precisions((*plan.tflite_precisions, *held))
        formats = sorted(have | set(plan.formats))
        return plan.replace(
            action="write", formats=formats, overwrite=True, tflite_precisions=both, existing=existing
        )
    if not plan.overwrite:
        raise FileExistsError(
            f"{target or 'the export'} already holds an export of another checkpoint or precision; "
            "pass --overwrite to replace it"
        )
    return plan.replace(action="write", existing=existing)
