"""Which deployment files a request makes, and their names (variant, outputs, clip shape, precision)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

#: Deployment formats, in the order they are written (OpenVINO IR is read from the ONNX graph).
DEPLOY_FORMATS = ("tflite", "onnx", "openvino")
#: The official evaluation clip (B, 3, T, H, W).
DEFAULT_DEPLOY_SHAPE = (1, 3, 32, 224, 224)
#: Precisions per deployment format (not the model's ``precision``, :data:`tf_videoswin.config.PRECISIONS`):
#: TFLite float32, float16 weights and dynamic-range int8 weights; ONNX and OpenVINO in float32.
DEPLOY_PRECISIONS = {"tflite": ("float32", "float16", "int8"), "onnx": ("float32",), "openvino": ("float32",)}
#: Lossless precisions: their files must match the reference within the parity tolerance.
EXACT_PRECISIONS = ("float32",)
_EXTENSIONS = {"tflite": ".tflite", "onnx": ".onnx", "openvino": ".xml"}


def shape_tag(shape: Sequence[int | None]) -> str:
    """``(1, 3, 32, 224, 224)`` -> ``"1x3x32x224x224"``; a dynamic batch is ``N``."""
    return "x".join("N" if d is None else str(d) for d in shape)


@dataclasses.dataclass(frozen=True)
class DeployTarget:
    """One deployment file to make.

    Attributes:
        format: ``tflite``, ``onnx`` or ``openvino``.
        kind: ``classifier`` (logits), ``feature_extractor`` (features, pooled) or ``model`` (all three).
        precision: ``float32``, ``float16`` or ``int8`` (see :data:`DEPLOY_PRECISIONS`).
        shape: the clip shape ``(B, 3, T, H, W)``; ``B`` is ``None`` for a dynamic batch axis.
    """

    format: str
    kind: str
    precision: str
    shape: tuple[int | None, int, int, int, int]

    @property
    def exact(self) -> bool:
        return self.precision in EXACT_PRECISIONS

    def filename(self, stem: str) -> str:
        """``<stem>.<kind>.<shape>.<precision>.<ext>``, e.g.
        ``swin_tiny_patch244_window877_kinetics400_1k.classifier.1x3x32x224x224.float32.tflite``."""
        return f"{stem}.{self.kind}.{shape_tag(self.shape)}.{self.precision}{_EXTENSIONS[self.format]}"


def check_tflite_precisions(precisions: Sequence[str]) -> tuple[str, ...]:
    """TFLite precisions in the canonical order of :data:`DEPLOY_PRECISIONS`, without repeats.

    Raises:
        ValueError: an unknown precision, or none at all.
    """
    allowed = DEPLOY_PRECISIONS["tflite"]
    unknown = sorted({p for p in precisions if p not in allowed})
    if unknown:
        raise ValueError(f"unknown TFLite precision(s) {unknown}; expected some of {', '.join(allowed)}")
    if not precisions:
        raise ValueError(f"no TFLite precision given; expected some of {', '.join(allowed)}")
    return tuple(p for p in allowed if p in precisions)


def plan_targets(
    formats: Sequence[str],
    shape: Sequence[int],
    include_top: bool = True,
    tflite_precisions: Sequence[str] = DEPLOY_PRECISIONS["tflite"],
) -> list[DeployTarget]:
    """The files ``formats`` ask for at clip ``shape``.

    TFLite files are per output kind (``classifier`` and ``feature_extractor``) at the fixed ``shape``,
    in each of ``tflite_precisions``; the ONNX and OpenVINO files carry all outputs (``model``) with a
    dynamic batch axis and the static T, H, W of ``shape``.

    Args:
        formats: any of :data:`DEPLOY_FORMATS` (others are ignored).
        shape: ``(B, 3, T, H, W)``.
        include_top: the model has a classification head (else only feature extractors are made).
        tflite_precisions: some of ``DEPLOY_PRECISIONS["tflite"]`` (default: all of them).
    Raises:
        ValueError: an unknown format or TFLite precision.
    """
    unknown = [f for f in formats if f not in DEPLOY_FORMATS]
    if unknown:
        raise ValueError(f"unknown deployment format(s) {unknown}; expected {DEPLOY_FORMATS}")
    tflite_precisions = check_tflite_precisions(tflite_precisions)
    shape = tuple(int(d) for d in shape)
    dynamic = (None, *shape[1:])
    kinds = ("classifier", "feature_extractor") if include_top else ("feature_extractor",)
    targets = []
    for fmt in DEPLOY_FORMATS:
        if fmt not in formats:
            continue
        if fmt == "tflite":
            targets += [DeployTarget(fmt, k, p, shape) for k in kinds for p in tflite_precisions]  # type: ignore[arg-type]
        else:
            kind = "model" if include_top else "feature_extractor"
            targets.append(DeployTarget(fmt, kind, "float32", dynamic))  # type: ignore[arg-type]
    return targets
