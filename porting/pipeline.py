"""The conversion pipeline: checkpoint -> checked state_dict -> ported models -> parity -> exports.

:func:`port_checkpoint` is the one place that turns a checkpoint into a Keras model with its weights
(and the strictly loaded PyTorch reference next to it): ``convert.py``, ``check_parity.py``,
``tf_videoswin.from_pretrained``, the benchmarks and the tests all call it. :func:`convert` adds the
parity proof and writes the export folder atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tf_videoswin.backend import require_tensorflow_backend
from tf_videoswin.config import check_attention_precision, check_precision
from tf_videoswin.errors import ExportFormatError
from tf_videoswin.export.deploy.targets import (
    DEFAULT_DEPLOY_SHAPE,
    DEPLOY_FORMATS,
    DEPLOY_PRECISIONS,
    DeployTarget,
    check_tflite_precisions,
    plan_targets,
)
from tf_videoswin.export.files import sha256_file
from tf_videoswin.export.keras_files import KERAS_FORMATS
from tf_videoswin.export.metadata import ExportFile, ExportMetadata, runtime_versions
from tf_videoswin.export.writer import SAVEDMODEL, ReloadCase, write_export
from tf_videoswin.variants import VariantConfig, load_labels

from . import parity
from .port import PortedModels, port_checkpoint, verify_parity
from .rule_engine import PortReport

logger = logging.getLogger(__name__)

#: Reloaded SavedModels must reproduce the in-memory Keras model to float32 round-off.
RELOAD_TOLERANCE = 1e-6
#: Exports are also checked at a shape they were never traced at: they must be shape-dynamic.
RELOAD_CHECK_SHAPE = parity.SECOND_PARITY_SHAPE
#: Formats ``convert`` can write. The SavedModels are always written: they are the export.
FORMATS = (SAVEDMODEL, *KERAS_FORMATS, *DEPLOY_FORMATS)
#: Seeds of the extra inputs on which lossy deployment files (float16, int8) report their drift
#: (the parity input is seed 0).
DRIFT_SEEDS = (1, 2, 3)
#: What each deployment format needs installed, to be written and then proven in its runtime(s).
DEPLOY_DEPENDENCIES = {
    "tflite": ("ai_edge_litert.interpreter",),
    "onnx": ("tf2onnx", "onnx", "onnxruntime", "openvino"),
    "openvino": ("tf2onnx", "onnx", "openvino"),
}
#: Distributions whose versions the metadata records when installed.
RECORDED_VERSIONS = ("torch", "ai-edge-litert", "tf2onnx", "onnx", "onnxruntime", "openvino")
#: License of the upstream weights (the official repository and mmaction2 are both Apache-2.0).
UPSTREAM_LICENSE = "Apache-2.0"


@dataclasses.dataclass
class ConversionResult:
    variant: str
    export_dir: Path | None
    checkpoint_sha256: str
    parity: parity.ParityReport
    port: PortReport
    reload_max_abs: dict[str, float]
    seconds: float
    files: tuple[ExportFile, ...] = ()
    skipped: bool = False
    precision: str = "float32"
    precision_drift: dict = dataclasses.field(default_factory=dict)
    attention_precision: str = "float32"


class ExportPlan(NamedTuple):
    """What :func:`convert` does about an export folder."""

    action: str  # "skip" (up to date) or "write"
    formats: tuple[str, ...]  # the formats to write
    overwrite: bool  # replace the folder
    tflite_precisions: tuple[str, ...]  # the precisions of the TFLite files to write


@dataclasses.dataclass(frozen=True)
class DeployRequest:
    """Deployment files to write next to the SavedModels, and the reference outputs that prove them."""

    targets: tuple[DeployTarget, ...]
    parity: Any  # tf_videoswin.export.deploy.proof.ProofInput at the deploy shape (seed 0)
    drift: tuple = ()  # ProofInputs of DRIFT_SEEDS, for lossy files
    tolerance: float = parity.DEFAULT_TOLERANCE


def precision_drift(float32_model, model, shape: Sequence[int] = parity.DEFAULT_PARITY_SHAPE) -> dict:
    """Drift of a reduced-precision model from its float32 twin on the seeded parity input and
    :data:`DRIFT_SEEDS` (worst max-abs per output, lowest pooled cosine, top-5 overlap, top-1 agreement)."""
    from tf_videoswin.export.proof import drift

    pairs = []
    for seed in (0, *DRIFT_SEEDS):
        video = parity.parity_input(tuple(shape), seed=seed)
        pairs.append((parity.tf_outputs(float32_model, video), parity.tf_outputs(model, video)))
    return drift(pairs)


def normalize_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    """Requested formats, validated, SavedModel first (always written), duplicates removed."""
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f == SAVEDMODEL or f in formats)


def build_metadata(
    cfg: VariantConfig,
    sha256: str,
    report: parity.ParityReport,
    reload_max_abs: dict[str, float],
    files: Sequence[ExportFile],
    precision: str = "float32",
    precision_drift: dict | None = None,
    attention_precision: str = "float32",
) -> ExportMetadata:
    """The metadata of an export converted from an upstream checkpoint."""
    return ExportMetadata(
        variant=cfg.name,
        architecture=cfg.arch,
        preprocessing=cfg.preprocessing,
        labels=tuple(load_labels(cfg)),
        dataset=cfg.dataset,
        source={
            "kind": "converted",
            "repository": cfg.repository,
            "checkpoint_url": cfg.url,
            "checkpoint_sha256": sha256,
            "license": UPSTREAM_LICENSE,
            "pretrain": cfg.pretrain,
            "layout": cfg.layout,
            **(
                {"published_sha256_prefix": cfg.checkpoint_sha256_prefix}
                if cfg.checkpoint_sha256_prefix
                else {}
            ),
        },
        accuracy={"top1": cfg.top1, "top5": cfg.top5, "source": cfg.accuracy_source},
        parity=report.as_dict(),
        reload_max_abs=reload_max_abs,
        files=tuple(files),
        versions=runtime_versions(*RECORDED_VERSIONS),
        precision=precision,
        attention_precision=attention_precision,
        precision_drift=dict(precision_drift or {}),
    )


def write_exports(
    tf_model,
    cfg: VariantConfig,
    target: Path,
    metadata_fn,
    overwrite: bool,
    cases: list[ReloadCase],
    formats: Sequence[str] = (SAVEDMODEL,),
    deploy: DeployRequest | None = None,
    deploy_model=None,
) -> tuple[dict[str, float], tuple[ExportFile, ...]]:
    """Write the export of a converted variant (its label set) with :func:`write_export`, plus the
    deployment files of ``deploy``, made from ``deploy_model`` (the float32 model; default ``tf_model``)."""

    def deployment_files(folder: Path) -> list[ExportFile]:
        if deploy is None or not deploy.targets:
            return []
        from tf_videoswin.export.deploy.writer import write_deploy_files

        return write_deploy_files(
            deploy_model or tf_model,
            folder,
            cfg.name,
            deploy.targets,
            deploy.parity,
            deploy.drift,
            deploy.tolerance,
        )

    return write_export(
        tf_model,
        target,
        load_labels(cfg),
        metadata_fn,
        cases,
        overwrite=overwrite,
        formats=formats,
        name=cfg.name,
        extra_files=deployment_files,
    )


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
    formats: tuple[str, ...],
    overwrite: bool,
    target: Path | None = None,
    wanted_paths: frozenset[str] | set[str] = frozenset(),
    precision: str = "float32",
    tflite_precisions: Sequence[str] = DEPLOY_PRECISIONS["tflite"],
    attention_precision: str = "float32",
) -> ExportPlan:
    """What to do about an export folder (see :class:`ExportPlan`).

    Up to date (same checkpoint, every requested format present, and every file of ``wanted_paths``,
    the deployment files at the requested shape and precisions): skip. Same checkpoint with formats or
    files missing: rewrite it with the union of formats and of TFLite precisions (the requested ones
    and those of the TFLite files it holds). Another checkpoint or precision: only with ``overwrite``.

    Raises:
        FileExistsError: the folder holds an export of another checkpoint and not ``overwrite``.
    """
    tflite_precisions = check_tflite_precisions(tflite_precisions)
    if existing is None:
        return ExportPlan("write", formats, overwrite, tflite_precisions)
    same = (
        existing.source.get("checkpoint_sha256") == sha256
        and existing.variant == cfg.name
        and existing.precision == precision
        and existing.attention_precision == attention_precision
    )
    root = target if target is not None else Path()
    present = [f for f in existing.files if target is None or (root / f.path).exists()]
    have = {f.format for f in present}
    if same and set(formats) <= have and set(wanted_paths) <= {f.path for f in present}:
        return ExportPlan("skip", formats, overwrite, tflite_precisions)
    if same:  # same weights, more formats or files: rewrite the export with all of them
        held = {f.precision for f in present if f.format == "tflite"}
        both = check_tflite_precisions((*tflite_precisions, *held))
        return ExportPlan("write", normalize_formats(sorted(have | set(formats))), True, both)
    if not overwrite:
        raise FileExistsError(
            f"{target or 'the export'} already holds an export of another checkpoint or precision; "
            "pass --overwrite to replace it"
        )
    return ExportPlan("write", formats, overwrite, tflite_precisions)


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


def deploy_request(
    ported: PortedModels,
    formats: Sequence[str],
    shape: Sequence[int],
    tolerance: float,
    tflite_precisions: Sequence[str] = DEPLOY_PRECISIONS["tflite"],
) -> DeployRequest | None:
    """The deployment files of ``formats`` at ``shape`` (TFLite in ``tflite_precisions``) and their
    proof: reference_torch's outputs on the seeded parity input at ``shape`` (seed 0) and, for lossy
    files, on :data:`DRIFT_SEEDS`."""
    if not formats:
        return None
    from tf_videoswin.export.proof import ProofInput

    targets = tuple(plan_targets(formats, shape, ported.tf_model.include_top, tflite_precisions))

    def case(seed: int) -> ProofInput:
        video = parity.parity_input(tuple(shape), seed=seed)
        name = f"seed {seed} {'x'.join(map(str, shape))}"
        return ProofInput(name, video, parity.torch_outputs(ported.reference, video))

    drift = tuple(case(s) for s in DRIFT_SEEDS) if any(not t.exact for t in targets) else ()
    return DeployRequest(targets, case(0), drift, tolerance)


def convert(
    cfg: VariantConfig,
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike = "exports",
    *,
    checkpoint_sha256: str | None = None,
    trust_checkpoint: bool = False,
    parity_shape: tuple[int, ...] = parity.DEFAULT_PARITY_SHAPE,
    tolerance: float = parity.DEFAULT_TOLERANCE,
    overwrite: bool = False,
    export: bool = True,
    formats: Sequence[str] = (SAVEDMODEL,),
    deploy_shape: Sequence[int] = DEFAULT_DEPLOY_SHAPE,
    precision: str = "float32",
    tflite_precisions: Sequence[str] = DEPLOY_PRECISIONS["tflite"],
    attention_precision: str = "float32",
) -> ConversionResult:
    """Convert one checkpoint; export only if parity holds.

    Args:
        cfg: the registry entry of the checkpoint.
        checkpoint: the ``.pth`` file.
        output_dir: export root; the export goes to ``output_dir/<variant>``.
        checkpoint_sha256: the file's sha256 when already known (downloads record it).
        trust_checkpoint: allow full unpickling of the file.
        parity_shape: ``B,3,T,H,W`` of the seeded parity input.
        tolerance: max-abs parity tolerance.
        overwrite: replace an export made from another checkpoint.
        export: write the export (``False``: parity only).
        formats: files to write besides the SavedModels (``keras``, ``weights``, ``tflite``, ``onnx``,
            ``openvino``).
        deploy_shape: ``B,3,T,H,W`` clip shape of the deployment files (TFLite: fixed; ONNX and
            OpenVINO: fixed T, H, W and a dynamic batch).
        tflite_precisions: the TFLite files' precisions (``float32``, ``float16``, ``int8``; default
            all three). Extending an export keeps the precisions of the TFLite files it holds.
        precision: what the SavedModels and Keras files compute in. The float32 port is proven against
            the reference first; a ``bfloat16`` / ``float16`` export then records its drift from float32
            (:func:`precision_drift`). Deployment files have their own precisions.
        attention_precision: ``float32`` (default) or ``precision``: the dtype of the SavedModels'
            attention logits and softmax (see :class:`~tf_videoswin.model.Recognizer3D`); recorded
            in the metadata, and the drift is measured with it.
    Returns:
        :class:`ConversionResult` (``skipped`` when the export is already up to date).
    Raises:
        ParityError, ExportCheckError: the port or a written file does not reproduce the reference.
        CheckpointError, CheckpointMismatchError, PortingError, FileExistsError, OSError: bad input.
        MissingDependencyError: a requested deployment format's converter or runtime is not installed.
        DeploymentError: a deployment file could not be converted (nothing is written).
    Example:
        >>> convert(get_variant("swin_tiny_patch244_window877_kinetics400_1k"), "tiny.pth")  # doctest: +SKIP
    """
    require_tensorflow_backend("writing an export (SavedModel, TF-Hub)")
    start = time.perf_counter()
    precision = check_precision(precision)
    attention_precision = check_attention_precision(attention_precision, precision)
    tflite_precisions = check_tflite_precisions(tflite_precisions)
    formats = normalize_formats(formats)
    deploy_formats = [f for f in formats if f in DEPLOY_FORMATS]
    if export and deploy_formats:
        deploy_shape = check_deploy_shape(deploy_shape)
        require_deploy_dependencies(deploy_formats)
    target = Path(output_dir) / cfg.name
    sha256 = checkpoint_sha256 or sha256_file(checkpoint)
    if export:
        existing = existing_export(target, overwrite)
        wanted = {
            t.filename(cfg.name) for t in plan_targets(deploy_formats, deploy_shape, True, tflite_precisions)
        }
        action, formats, overwrite, tflite_precisions = plan_export(
            existing,
            cfg,
            sha256,
            formats,
            overwrite,
            target,
            wanted,
            precision,
            tflite_precisions,
            attention_precision,
        )
        if action == "skip":
            logger.info("%s is up to date with checkpoint %s; nothing to do", target, sha256[:12])
            report = parity.ParityReport((), tuple(parity_shape))
            return ConversionResult(
                cfg.name, target, sha256, report, PortReport(), {}, 0.0, existing.files, skipped=True
            )
        deploy_formats = [f for f in formats if f in DEPLOY_FORMATS]  # more, when an export is extended
        require_deploy_dependencies(deploy_formats)

    ported = port_checkpoint(cfg, checkpoint, trust_checkpoint=trust_checkpoint)
    report, video, actual = verify_parity(ported, parity_shape, tolerance)
    model, drift = ported.tf_model, {}
    if precision != "float32":
        model = ported.tf_model.with_precision(precision, attention_precision)
        drift = precision_drift(ported.tf_model, model, parity_shape)
        actual = parity.tf_outputs(model, video)
    reload_max_abs: dict[str, float] = {}
    files: tuple[ExportFile, ...] = ()
    if export:
        # Same input: the reloaded exports must reproduce the in-memory model to round-off.
        # Another shape, never traced: they must still match the reference (dynamic T/H/W); a reduced
        # precision export matches its in-memory model there.
        other = parity.parity_input(RELOAD_CHECK_SHAPE, seed=1)
        exact = precision == "float32"
        cases = [
            ReloadCase(report.input_shape_name, video, actual, RELOAD_TOLERANCE),
            ReloadCase(
                "x".join(map(str, RELOAD_CHECK_SHAPE)),
                other,
                parity.torch_outputs(ported.reference, other) if exact else parity.tf_outputs(model, other),
                tolerance if exact else RELOAD_TOLERANCE,
                check_call=False,
                parity_key="vs_reference_max_abs" if exact else "reload_max_abs",
            ),
        ]
        deploy = deploy_request(ported, deploy_formats, deploy_shape, tolerance, tflite_precisions)
        ported.reference = None  # free the PyTorch copy of the weights before exporting
        reload_max_abs, files = write_exports(
            model,
            cfg,
            target,
            lambda reload, written: build_metadata(
                cfg, sha256, report, reload, written, precision, drift, attention_precision
            ),
            overwrite,
            cases,
            formats,
            deploy,
            deploy_model=ported.tf_model,
        )
    return ConversionResult(
        cfg.name,
        target if export else None,
        sha256,
        report,
        ported.report,
        reload_max_abs,
        time.perf_counter() - start,
        files,
        precision=precision,
        precision_drift=drift,
        attention_precision=attention_precision,
    )
