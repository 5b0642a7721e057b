"""The conversion pipeline behind ``porting/convert.py``: load, check, port, prove parity, export."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np

from tf_videoswin.variants import VariantConfig, load_labels

from . import checks, parity
from .download import sha256_file
from .engine import PortReport, port_weights
from .export import EXPORT_KINDS, atomic_directory, save_export

logger = logging.getLogger(__name__)

METADATA_FILE = "videoswin_metadata.json"
FORMAT_VERSION = 1
#: Reloaded SavedModels must reproduce the in-memory Keras model to float32 round-off.
RELOAD_TOLERANCE = 1e-6
#: A second shape, different from the parity shape and never traced: the export must be shape-dynamic.
RELOAD_CHECK_SHAPE = (2, 3, 10, 64, 96)


class ParityError(RuntimeError):
    """The ported model does not reproduce the reference within tolerance."""

    def __init__(self, report: parity.ParityReport) -> None:
        self.report = report
        row = report.first_failure
        super().__init__(
            f"parity check failed: {row.name} differs by {row.max_abs:.3e} (> {row.tolerance:g})\n"
            + report.format()
        )


class ExportCheckError(RuntimeError):
    """A written SavedModel does not reproduce what it was exported from."""


@dataclasses.dataclass
class ConversionResult:
    variant: str
    export_dir: Path | None
    checkpoint_sha256: str
    parity: parity.ParityReport
    port: PortReport
    reload_max_abs: dict[str, float]
    seconds: float
    skipped: bool = False


def load_and_check(checkpoint: str | os.PathLike, cfg: VariantConfig, trust_checkpoint: bool = False):
    """The state_dict as numpy arrays, after architecture, value and derived-buffer checks."""
    from reference_torch.checkpoint import load_state_dict

    state_dict = {k: v.numpy() for k, v in load_state_dict(checkpoint, trust_checkpoint).items()}
    checks.check_variant(state_dict, cfg)
    checks.check_finite(state_dict)
    n = checks.verify_relative_position_index(state_dict, cfg)
    logger.info("%d relative_position_index buffers equal the recomputed index", n)
    return state_dict


def build_models(state_dict: dict[str, np.ndarray], cfg: VariantConfig):
    """The ported Keras model and the strictly loaded PyTorch reference."""
    import torch

    from reference_torch import build_recognizer
    from tf_videoswin.recognizer import build_model

    tf_model = build_model(cfg)
    report = port_weights(state_dict, tf_model)
    torch_model = build_recognizer(cfg)
    torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()}, strict=True)
    return tf_model, torch_model, report


def read_metadata(export_dir: str | os.PathLike) -> dict | None:
    path = Path(export_dir) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import tensorflow as tf
    import torch

    from tf_videoswin import __name__ as pkg

    try:
        own = version("tf-videoswin")
    except PackageNotFoundError:
        own = "unknown"
    return {
        pkg: own,
        "tensorflow": tf.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def build_metadata(cfg: VariantConfig, sha256: str, report: parity.ParityReport, reload_max_abs) -> dict:
    pre = cfg.preprocessing
    return {
        "format_version": FORMAT_VERSION,
        "variant": cfg.name,
        "upstream": {
            "repository": "https://github.com/SwinTransformer/Video-Swin-Transformer",
            "checkpoint_url": cfg.url,
            "checkpoint_sha256": sha256,
            "license": "Apache-2.0",
        },
        "architecture": {
            "embed_dim": cfg.embed_dim,
            "depths": list(cfg.depths),
            "num_heads": list(cfg.num_heads),
            "window_size": list(cfg.window_size),
            "patch_size": list(cfg.patch_size),
            "num_parameters": cfg.num_parameters,
            "num_classes": cfg.num_classes,
            "num_features": cfg.num_features,
        },
        "dataset": cfg.dataset,
        "pretrain": cfg.pretrain,
        "accuracy": {
            "top1": cfg.top1,
            "top5": cfg.top5,
            "source": "official README (Video-Swin-Transformer)",
        },
        "input": {
            "name": "video",
            "shape": [None, 3, None, None, None],
            "layout": "NCTHW (channels-first)",
            "dtype": "float32",
            "normalization": {"mean": list(pre.mean), "std": list(pre.std), "scale": "0-255", "order": "RGB"},
            "test_pipeline": dataclasses.asdict(pre),
        },
        "outputs": {
            "classifier": {
                "__call__": "logits [B, num_classes]",
                "serving_default": {"logits": "[B, num_classes]"},
            },
            "feature_extractor": {
                "__call__": "pooled [B, num_features]",
                "serving_default": {
                    "features": "[B, num_features, T/2, H/32, W/32]",
                    "pooled": "[B, num_features]",
                },
            },
        },
        "parity": report.as_dict(),
        "reload_max_abs": reload_max_abs,
        "labels": load_labels(cfg),
        "versions": _versions(),
    }


@dataclasses.dataclass(frozen=True)
class ReloadCase:
    """An input, the outputs the reloaded exports must give for it, and how close."""

    name: str
    video: np.ndarray
    expected: dict[str, np.ndarray]  # logits, features, pooled
    tolerance: float
    check_call: bool = True  # also compare ``__call__``, not only ``serving_default``


def verify_reload(export_dir: Path, cases: list[ReloadCase]) -> dict[str, float]:
    """Reload both SavedModels and compare signatures (and ``__call__``) with expected outputs."""
    import tensorflow as tf

    worst: dict[str, float] = {}
    classifier = tf.saved_model.load(str(export_dir / "classifier"))
    extractor = tf.saved_model.load(str(export_dir / "feature_extractor"))
    for case in cases:
        video = tf.constant(case.video)
        fe = extractor.signatures["serving_default"](video=video)
        got = {
            "classifier.serving_default.logits": (
                classifier.signatures["serving_default"](video=video)["logits"],
                "logits",
            ),
            "feature_extractor.serving_default.features": (fe["features"], "features"),
            "feature_extractor.serving_default.pooled": (fe["pooled"], "pooled"),
        }
        if case.check_call:
            got["classifier.__call__"] = (classifier(video, training=False), "logits")
            got["feature_extractor.__call__"] = (extractor(video, training=False), "pooled")
        for name, (actual, key) in got.items():
            actual, ref = actual.numpy(), case.expected[key]
            if actual.shape != ref.shape:
                raise ExportCheckError(
                    f"reloaded {name} has shape {actual.shape}, expected {ref.shape} ({case.name})"
                )
            diff = float(np.abs(actual - ref).max())
            worst[f"{name}@{case.name}"] = diff
            if not diff <= case.tolerance:
                raise ExportCheckError(
                    f"reloaded {name} differs by {diff:.3e} (> {case.tolerance:g}) on {case.name}"
                )
    return worst


def write_exports(
    tf_model, cfg: VariantConfig, target: Path, metadata_fn, overwrite: bool, cases: list[ReloadCase]
) -> dict[str, float]:
    """Write classifier + feature_extractor + metadata into ``target`` atomically; verify reload."""
    from .model_card import render_model_card

    labels = load_labels(cfg)
    with atomic_directory(target, overwrite=overwrite) as tmp:
        save_export(tf_model, "classifier", tmp / "classifier", labels=labels)
        save_export(tf_model, "feature_extractor", tmp / "feature_extractor")
        reload_max_abs = verify_reload(tmp, cases)
        metadata = metadata_fn(reload_max_abs)
        text = json.dumps(metadata, indent=2) + "\n"
        for folder in (tmp, tmp / "classifier", tmp / "feature_extractor"):
            (folder / METADATA_FILE).write_text(text, encoding="utf-8")
        (tmp / "README.md").write_text(render_model_card(metadata), encoding="utf-8")
    return reload_max_abs


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
) -> ConversionResult:
    """Convert one checkpoint; export only if parity holds. Raises on any failure."""
    start = time.perf_counter()
    target = Path(output_dir) / cfg.name
    sha256 = checkpoint_sha256 or sha256_file(checkpoint)
    existing = read_metadata(target)
    if export and existing and not overwrite:
        same = existing.get("upstream", {}).get("checkpoint_sha256") == sha256
        same = same and existing.get("format_version") == FORMAT_VERSION
        if same and all((target / kind / "saved_model.pb").is_file() for kind in EXPORT_KINDS):
            logger.info("%s is up to date with checkpoint %s; nothing to do", target, sha256[:12])
            report = parity.ParityReport((), tuple(parity_shape))
            return ConversionResult(cfg.name, target, sha256, report, PortReport(), {}, 0.0, skipped=True)
        raise FileExistsError(
            f"{target} already holds an export of another checkpoint or format; "
            "pass --overwrite to replace it"
        )
    if export and target.exists() and not overwrite and existing is None:
        raise FileExistsError(
            f"{target} exists and is not an export of this tool; pass --overwrite to replace it"
        )

    state_dict = load_and_check(checkpoint, cfg, trust_checkpoint)
    tf_model, torch_model, port_report = build_models(state_dict, cfg)
    del state_dict
    video = parity.parity_input(tuple(parity_shape))
    expected = parity.torch_outputs(torch_model, video)
    actual = parity.tf_outputs(tf_model, video)
    report = parity.compare(expected, actual, video.shape, tolerance)
    if not report.ok:
        raise ParityError(report)
    reload_max_abs: dict[str, float] = {}
    if export:
        # Same input: the reloaded exports must reproduce the in-memory model to round-off.
        # Another shape, never traced: they must still match the reference (dynamic T/H/W).
        other = parity.parity_input(RELOAD_CHECK_SHAPE, seed=1)
        cases = [
            ReloadCase(report.input_shape_name, video, actual, RELOAD_TOLERANCE),
            ReloadCase(
                "x".join(map(str, RELOAD_CHECK_SHAPE)),
                other,
                parity.torch_outputs(torch_model, other),
                tolerance,
                check_call=False,
            ),
        ]
        del torch_model
        reload_max_abs = write_exports(
            tf_model, cfg, target, lambda r: build_metadata(cfg, sha256, report, r), overwrite, cases
        )
    return ConversionResult(
        cfg.name,
        target if export else None,
        sha256,
        report,
        port_report,
        reload_max_abs,
        time.perf_counter() - start,
    )
