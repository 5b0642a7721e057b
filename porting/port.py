"""The lean port: checkpoint -> checked state_dict -> Keras model with its weights, and the parity check.

What ``tf_videoswin.from_pretrained``, evaluation against the reference and the converter share.
Nothing here writes files or needs TensorFlow: the model is built on whatever Keras backend the
process runs (TensorFlow, JAX or PyTorch); reading a ``.pth`` needs torch. The export orchestration
lives in :mod:`porting.pipeline`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tf_videoswin.errors import ParityError
from tf_videoswin.metrics import DEFAULT_TOLERANCE, ParityReport, compare
from tf_videoswin.variants import VariantConfig, get_variant

from . import parity, validation
from .checkpoint import load_state_dict, to_numpy
from .rule_engine import PortReport, port_weights

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class PortedModels:
    """A Keras model with a checkpoint's weights, and the PyTorch reference that loaded them strictly."""

    variant: VariantConfig
    tf_model: Any  # tf_videoswin.Recognizer3D
    reference: Any | None  # reference_torch.Recognizer3D (None when not asked for)
    report: PortReport


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

        torch_model = build_recognizer(cfg)  # the variant's layout: final norm ``norm`` or ``norm3``
        torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()}, strict=True)
    return PortedModels(cfg, tf_model, torch_model, report)


def verify_parity(
    ported: PortedModels,
    shape: Sequence[int] = parity.DEFAULT_PARITY_SHAPE,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[ParityReport, np.ndarray, dict[str, np.ndarray]]:
    """Compare the port with the reference on the seeded input; raise :class:`ParityError` beyond tolerance.

    Returns the report, the input and the Keras outputs on it.
    """
    if ported.reference is None:
        raise ValueError("parity needs the reference model: port_checkpoint(..., reference=True)")
    video = parity.parity_input(tuple(shape))
    expected = parity.torch_outputs(ported.reference, video)
    actual = parity.tf_outputs(ported.tf_model, video)
    report = compare(expected, actual, video.shape, tolerance)
    if not report.ok:
        raise ParityError(report)
    return report, video, actual
