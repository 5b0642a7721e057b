"""OpenVINO IR (``.xml`` + ``.bin``, f32 weights) read from the ONNX file of the deployment graph.

OpenVINO reads that ONNX graph as fast as it reads the TorchScript ONNX of the PyTorch reference
(its per-layer profile is the same), so the IR needs no torch. OpenVINO's CPU plugin computes in
bfloat16 by default on CPUs with AVX512-BF16/AMX: the IR keeps f32 weights, and
:mod:`.runtimes` compiles it with ``INFERENCE_PRECISION_HINT=f32`` for float32 results.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ...errors import DeploymentError
from ...optional import require

logger = logging.getLogger(__name__)


def convert_openvino(onnx_path: str | os.PathLike, xml_path: str | os.PathLike) -> list[str]:
    """Convert an ONNX file to OpenVINO IR at ``xml_path`` (and the ``.bin`` beside it); return its op types.

    Raises:
        MissingDependencyError: openvino is not installed.
        DeploymentError: OpenVINO cannot read or convert the ONNX file.
    """
    ov = require("openvino", "writing OpenVINO IR files")
    try:
        model = ov.convert_model(str(onnx_path))
        ov.save_model(model, str(xml_path), compress_to_fp16=False)
    except Exception as e:
        raise DeploymentError(f"OpenVINO could not convert {Path(onnx_path).name}: {e}") from e
    ops = sorted({op.get_type_name() for op in model.get_ops()})
    logger.info("wrote %s (+ .bin)", xml_path)
    return ops
