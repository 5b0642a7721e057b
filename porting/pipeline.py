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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tf_videoswin.errors import ExportFormatError, ParityError
from tf_videoswin.export.files import sha256_file
from tf_videoswin.export.keras_files import KERAS_FORMATS
from tf_videoswin.export.metadata import ExportFile, ExportMetadata, runtime_versions
from tf_videoswin.export.writer import SAVEDMODEL, ReloadCase, write_export
from tf_videoswin.variants import VariantConfig, get_variant, load_labels

from . import parity, validation
from .checkpoint import load_state_dict, to_numpy
from .rule_engine import PortReport, port_weights

logger = logging.getLogger(__name__)

#: Reloaded SavedModels must reproduce the in-memory Keras model to float32 round-off.
RELOAD_TOLERANCE = 1e-6
#: A second shape, different from the parity shape and never traced: the export must be shape-dynamic.
RELOAD_CHECK_SHAPE = (2, 3, 10, 64, 96)
#: Formats ``convert`` can write. The SavedModels are always written: they are the export.
FORMATS = (SAVEDMODEL, *KERAS_FORMATS)
#: License of the upstream weights (the official repository and mmaction2 are both Apache-2.0).
UPSTREAM_LICENSE = "Apache-2.0"


@dataclasses.dataclass
class PortedModels:
    """A Keras model with a checkpoint's weights, and the PyTorch reference that loaded them strictly."""

    variant: VariantConfig
    tf_model: Any  # tf_videoswin.Recognizer3D
    reference: Any | None  # reference_torch.Recognizer3D (None when not asked for)
    report: PortReport


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


def load_and_check(
    source: str | os.PathLike | Mapping, cfg: VariantConfig, trust_checkpoint: bool = False
) -> dict[str, np.ndarray]:
    """The state_dict (float32 numpy) of a checkpoint file or mapping, after architecture, value and
    derived-buffer checks.

    Raises:
        CheckpointError: the file cannot be read safely.
        CheckpointMismatchError: another architecture, non-finite values, or a wrong derived buffer.
    """
    if isinstance(source, Mapping):
        state_dict = {
            k: (np.asarray(v) if isinstance(v, np.ndarray) else to_numpy({k: v})[k])
            for k, v in source.items()
        }
    else:
        state_dict = load_state_dict(source, trust_checkpoint)
    validation.check_variant(state_dict, cfg)
    validation.check_finite(state_dict)
    n = validation.verify_relative_position_index(state_dict, cfg)
    logger.info("%d relative_position_index buffers equal the recomputed index", n)
    return state_dict


def port_checkpoint(
    variant: str | VariantConfig,
    source: str | os.PathLike | Mapping,
    *,
    trust_checkpoint: bool = False,
    reference: bool = True,
) -> PortedModels:
    """Checkpoint -> checked state_dict -> Keras model with the weights (+ the strictly loaded reference).

    Args:
        variant: registry name or entry the checkpoint must be.
        source: a ``.pth`` file, or a state_dict (numpy arrays or torch tensors).
        trust_checkpoint: allow full unpickling of the file (only for trusted files).
        reference: also build ``reference_torch`` and load the state_dict with ``strict=True``.
    Returns:
        :class:`PortedModels`; ``report`` accounts for every key and variable.
    Raises:
        CheckpointError, CheckpointMismatchError, PortingError: see :func:`load_and_check` and
        :func:`porting.rule_engine.port_weights`.
    """
    from tf_videoswin.model import build_model

    cfg = get_variant(variant)
    state_dict = load_and_check(source, cfg, trust_checkpoint)
    tf_model = build_model(cfg)
    report = port_weights(state_dict, tf_model)
    torch_model = None
    if reference:
        import torch

        from reference_torch import build_recognizer

        torch_model = build_recognizer(cfg)
        torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()}, strict=True)
    return PortedModels(cfg, tf_model, torch_model, report)


def verify_parity(
    ported: PortedModels,
    shape: Sequence[int] = parity.DEFAULT_PARITY_SHAPE,
    tolerance: float = parity.DEFAULT_TOLERANCE,
) -> tuple[parity.ParityReport, np.ndarray, dict[str, np.ndarray]]:
    """Compare the port with the reference on the seeded input; raise :class:`ParityError` beyond tolerance.

    Returns the report, the input and the Keras outputs on it.
    """
    if ported.reference is None:
        raise ValueError("parity needs the reference model: port_checkpoint(..., reference=True)")
    video = parity.parity_input(tuple(shape))
    expected = parity.torch_outputs(ported.reference, video)
    actual = parity.tf_outputs(ported.tf_model, video)
    report = parity.compare(expected, actual, video.shape, tolerance)
    if not report.ok:
        raise ParityError(report)
    return report, video, actual


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
        },
        accuracy={"top1": cfg.top1, "top5": cfg.top5, "source": cfg.accuracy_source},
        parity=report.as_dict(),
        reload_max_abs=reload_max_abs,
        files=tuple(files),
        versions=runtime_versions("torch"),
    )


def write_exports(
    tf_model,
    cfg: VariantConfig,
    target: Path,
    metadata_fn,
    overwrite: bool,
    cases: list[ReloadCase],
    formats: Sequence[str] = (SAVEDMODEL,),
) -> tuple[dict[str, float], tuple[ExportFile, ...]]:
    """Write the export of a converted variant (its label set) with :func:`write_export`."""
    return write_export(
        tf_model,
        target,
        load_labels(cfg),
        metadata_fn,
        cases,
        overwrite=overwrite,
        formats=formats,
        name=cfg.name,
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
        formats: files to write besides the SavedModels (``keras``, ``weights``).
    Returns:
        :class:`ConversionResult` (``skipped`` when the export is already up to date).
    Raises:
        ParityError, ExportCheckError: the port or a written file does not reproduce the reference.
        CheckpointError, CheckpointMismatchError, PortingError, FileExistsError, OSError: bad input.
    Example:
        >>> convert(get_variant("swin_tiny_patch244_window877_kinetics400_1k"), "tiny.pth")  # doctest: +SKIP
    """
    start = time.perf_counter()
    formats = normalize_formats(formats)
    target = Path(output_dir) / cfg.name
    sha256 = checkpoint_sha256 or sha256_file(checkpoint)
    if export:
        existing = existing_export(target, overwrite)
        if existing is not None:
            same = existing.source.get("checkpoint_sha256") == sha256 and existing.variant == cfg.name
            have = {f.format for f in existing.files}
            if same and set(formats) <= have:
                logger.info("%s is up to date with checkpoint %s; nothing to do", target, sha256[:12])
                report = parity.ParityReport((), tuple(parity_shape))
                return ConversionResult(
                    cfg.name, target, sha256, report, PortReport(), {}, 0.0, existing.files, skipped=True
                )
            if same:  # same weights, more formats: rewrite the export with all of them
                formats, overwrite = normalize_formats(sorted(have | set(formats))), True
            elif not overwrite:
                raise FileExistsError(
                    f"{target} already holds an export of another checkpoint; pass --overwrite to replace it"
                )

    ported = port_checkpoint(cfg, checkpoint, trust_checkpoint=trust_checkpoint)
    report, video, actual = verify_parity(ported, parity_shape, tolerance)
    reload_max_abs: dict[str, float] = {}
    files: tuple[ExportFile, ...] = ()
    if export:
        # Same input: the reloaded exports must reproduce the in-memory model to round-off.
        # Another shape, never traced: they must still match the reference (dynamic T/H/W).
        other = parity.parity_input(RELOAD_CHECK_SHAPE, seed=1)
        cases = [
            ReloadCase(report.input_shape_name, video, actual, RELOAD_TOLERANCE),
            ReloadCase(
                "x".join(map(str, RELOAD_CHECK_SHAPE)),
                other,
                parity.torch_outputs(ported.reference, other),
                tolerance,
                check_call=False,
                parity_key="vs_reference_max_abs",
            ),
        ]
        ported.reference = None  # free the PyTorch copy of the weights before exporting
        reload_max_abs, files = write_exports(
            ported.tf_model,
            cfg,
            target,
            lambda reload, written: build_metadata(cfg, sha256, report, reload, written),
            overwrite,
            cases,
            formats,
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
    )
