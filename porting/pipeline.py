"""The conversion pipeline: checkpoint -> checked state_dict -> ported models -> parity -> exports.

:func:`convert` composes the lean port (:func:`porting.port.port_checkpoint`, the one path from a
checkpoint to ported models, and its parity proof), the plan of what to export
(:class:`porting.export_plan.ExportPlan`) and the writing of the export folder, atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from tf_videoswin.backend import require_tensorflow_backend
from tf_videoswin.export.deploy.targets import DEPLOY_PRECISIONS, DeployTarget, plan_targets
from tf_videoswin.export.metadata import ExportFile, ExportMetadata, runtime_versions
from tf_videoswin.export.writer import ReloadCase, write_export
from tf_videoswin.files import sha256_file
from tf_videoswin.metrics import DEFAULT_TOLERANCE, RELOAD_TOLERANCE, ParityReport, drift
from tf_videoswin.variants import VariantConfig, load_labels

from . import parity
from .export_plan import ExportPlan, existing_export, plan_export, require_deploy_dependencies
from .port import PortedModels, port_checkpoint, verify_parity
from .rule_engine import PortReport

logger = logging.getLogger(__name__)

#: Exports are also checked at a shape they were never traced at: they must be shape-dynamic.
RELOAD_CHECK_SHAPE = parity.SECOND_PARITY_SHAPE
#: Seeds of the extra inputs on which lossy deployment files (float16, int8) report their drift
#: (the parity input is seed 0).
DRIFT_SEEDS = (1, 2, 3)
#: Distributions whose versions the metadata records when installed.
RECORDED_VERSIONS = ("torch", "ai-edge-litert", "tf2onnx", "onnx", "onnxruntime", "openvino")
#: License of the upstream weights (the official repository and mmaction2 are both Apache-2.0).
UPSTREAM_LICENSE = "Apache-2.0"


@dataclasses.dataclass
class ConversionResult:
    variant: str
    export_dir: Path | None
    checkpoint_sha256: str
    parity: ParityReport
    port: PortReport
    reload_max_abs: dict[str, float]
    seconds: float
    files: tuple[ExportFile, ...] = ()
    skipped: bool = False
    precision: str = "float32"
    precision_drift: dict = dataclasses.field(default_factory=dict)
    attention_precision: str = "float32"


@dataclasses.dataclass(frozen=True)
class DeployRequest:
    """Deployment files to write next to the SavedModels, and the reference outputs that prove them."""

    targets: tuple[DeployTarget, ...]
    parity: Any  # tf_videoswin.export.proof.ProofInput at the deploy shape (seed 0)
    drift: tuple = ()  # ProofInputs of DRIFT_SEEDS, for lossy files
    tolerance: float = DEFAULT_TOLERANCE


def precision_drift(float32_model, model, shape: Sequence[int] = parity.DEFAULT_PARITY_SHAPE) -> dict:
    """Drift of a reduced-precision model from its float32 twin on the seeded parity input and
    :data:`DRIFT_SEEDS` (worst max-abs per output, lowest pooled cosine, top-5 overlap, top-1 agreement)."""
    pairs = []
    for seed in (0, *DRIFT_SEEDS):
        video = parity.parity_input(tuple(shape), seed=seed)
        pairs.append((parity.tf_outputs(float32_model, video), parity.tf_outputs(model, video)))
    return drift(pairs)


def in_precision(ported: PortedModels, plan: ExportPlan, video, actual, shape: Sequence[int]):
    """The model to export in ``plan.precision``, its outputs on the parity input ``video`` and its
    :func:`precision_drift` (empty for the float32 port itself, whose outputs are ``actual``)."""
    if plan.precision == "float32":
        return ported.tf_model, actual, {}
    model = ported.tf_model.with_precision(plan.precision, plan.attention_precision)
    return model, parity.tf_outputs(model, video), precision_drift(ported.tf_model, model, shape)


def build_metadata(
    cfg: VariantConfig,
    sha256: str,
    report: ParityReport,
    reload_max_abs: dict[str, float],
    files: Sequence[ExportFile],
    plan: ExportPlan | None = None,
    precision_drift: dict | None = None,
) -> ExportMetadata:
    """The metadata of an export converted from an upstream checkpoint (in the precisions of ``plan``)."""
    plan = plan or ExportPlan()
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
        precision=plan.precision,
        attention_precision=plan.attention_precision,
        precision_drift=dict(precision_drift or {}),
    )


def write_exports(
    tf_model,
    cfg: VariantConfig,
    target: Path,
    metadata_fn,
    plan: ExportPlan,
    cases: list[ReloadCase],
    deploy: DeployRequest | None = None,
    deploy_model=None,
) -> tuple[dict[str, float], tuple[ExportFile, ...]]:
    """Write the export of a converted variant (its label set) with :func:`write_export`: the formats of
    ``plan`` (replacing the folder if ``plan.overwrite``), plus the deployment files of ``deploy``, made
    from ``deploy_model`` (the float32 model; default ``tf_model``)."""

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
        overwrite=plan.overwrite,
        formats=plan.formats,
        name=cfg.name,
        extra_files=deployment_files,
    )


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


def reload_cases(ported: PortedModels, model, report: ParityReport, video, actual, tolerance: float):
    """What the reloaded exports must reproduce. Same input: the in-memory model (``actual``), to
    round-off. Another shape, never traced: the reference (they are shape-dynamic), or, for a reduced
    precision export, its in-memory model."""
    other = parity.parity_input(RELOAD_CHECK_SHAPE, seed=1)
    exact = model is ported.tf_model
    return [
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


def convert(
    cfg: VariantConfig,
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike = "exports",
    plan: ExportPlan | None = None,
    *,
    checkpoint_sha256: str | None = None,
    trust_checkpoint: bool = False,
    parity_shape: tuple[int, ...] = parity.DEFAULT_PARITY_SHAPE,
    tolerance: float = DEFAULT_TOLERANCE,
    export: bool = True,
    **plan_fields: Any,
) -> ConversionResult:
    """Convert one checkpoint; export only if parity holds.

    Args:
        cfg: the registry entry of the checkpoint.
        checkpoint: the ``.pth`` file.
        output_dir: export root; the export goes to ``output_dir/<variant>``.
        plan: what to export (:class:`~porting.export_plan.ExportPlan`; default: the SavedModels in
            float32). Extending an export keeps the formats and TFLite precisions it holds. A
            ``bfloat16`` / ``float16`` plan exports the float32 port, proven against the reference
            first, in that precision and records its drift from float32 (:func:`precision_drift`).
        checkpoint_sha256: the file's sha256 when already known (downloads record it).
        trust_checkpoint: allow full unpickling of the file.
        parity_shape: ``B,3,T,H,W`` of the seeded parity input.
        tolerance: max-abs parity tolerance.
        export: write the export (``False``: parity only).
        plan_fields: the plan's fields (``formats=``, ``deploy_shape=``, ``precision=``, ...) instead
            of ``plan``.
    Returns:
        :class:`ConversionResult` (``skipped`` when the export is already up to date).
    Raises:
        ParityError, ExportCheckError: the port or a written file does not reproduce the reference.
        CheckpointError, CheckpointMismatchError, PortingError, FileExistsError, OSError: bad input.
        ValueError: a field of the plan is not valid.
        MissingDependencyError: a requested deployment format's converter or runtime is not installed.
        DeploymentError: a deployment file could not be converted (nothing is written).
    Example:
        >>> convert(get_variant("swin_tiny_patch244_window877_kinetics400_1k"), "tiny.pth")  # doctest: +SKIP
    """
    require_tensorflow_backend("writing an export (SavedModel, TF-Hub)")
    start = time.perf_counter()
    if plan is not None and plan_fields:
        raise TypeError(f"convert() takes a plan or its fields, not both: {sorted(plan_fields)}")
    plan = plan or ExportPlan(**plan_fields)
    target = Path(output_dir) / cfg.name
    if export:
        require_deploy_dependencies(plan.deploy_formats)
    sha256 = checkpoint_sha256 or sha256_file(checkpoint)
    if export:
        plan = plan_export(existing_export(target, plan.overwrite), cfg, sha256, plan, target)
        if plan.action == "skip":
            logger.info("%s is up to date with checkpoint %s; nothing to do", target, sha256[:12])
            report, held = ParityReport((), tuple(parity_shape)), plan.existing.files
            return ConversionResult(
                cfg.name, target, sha256, report, PortReport(), {}, 0.0, held, skipped=True
            )
        require_deploy_dependencies(plan.deploy_formats)  # more, when an export is extended

    ported = port_checkpoint(cfg, checkpoint, trust_checkpoint=trust_checkpoint)
    report, video, actual = verify_parity(ported, parity_shape, tolerance)
    model, actual, drift = in_precision(ported, plan, video, actual, parity_shape)
    reload_max_abs, files = {}, ()
    if export:
        cases = reload_cases(ported, model, report, video, actual, tolerance)
        deploy = deploy_request(
            ported, plan.deploy_formats, plan.deploy_shape, tolerance, plan.tflite_precisions
        )
        ported.reference = None  # free the PyTorch copy of the weights before exporting
        metadata = partial(build_metadata, cfg, sha256, report, plan=plan, precision_drift=drift)
        reload_max_abs, files = write_exports(
            model, cfg, target, metadata, plan, cases, deploy, ported.tf_model
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
        precision=plan.precision,
        precision_drift=drift,
        attention_precision=plan.attention_precision,
    )
