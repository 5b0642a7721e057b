"""ONNX files of the deployment graph, through tf2onnx (opset 17), with a dynamic batch axis.

Why this source: the TF deployment graph exports with exact GELU as ``Erf`` (ONNX Runtime has no
``Erfc``, which tf2onnx writes for ``tf.nn.gelu``), no loops, and only standard ONNX operators, and the
result matches the reference in both ONNX Runtime and OpenVINO. The alternative, ``torch.onnx`` of the
PyTorch reference (TorchScript exporter, opset 17), is read by both runtimes but ONNX Runtime computes it
wrongly (see docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from ...errors import DeploymentError
from ...model.recognizer import Recognizer3D
from ...optional import require
from .signatures import deploy_function_with_weight_inputs
from .targets import DeployTarget

logger = logging.getLogger(__name__)

#: ONNX opset of the files (ONNX Runtime >= 1.13 and OpenVINO read it).
ONNX_OPSET = 17
#: Name of the dynamic batch dimension in the files.
BATCH_DIM = "batch"


@contextlib.contextmanager
def _optimizer_errors_raise() -> Iterator[None]:
    """tf2onnx deep-copies the whole graph, weights included, before each of its ~40 optimizer passes
    so it can skip a pass that fails; with this switch a failing pass raises instead (the file is
    verified anyway) and conversion is much faster."""
    key = "TF2ONNX_CATCH_ERRORS"
    old = os.environ.get(key)
    os.environ[key] = "FALSE"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _name_batch_axis(model_proto) -> None:
    for value in (*model_proto.graph.input, *model_proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_param = BATCH_DIM


def _attach_weights(model_proto, named: list[tuple[str, object]], numpy_helper) -> None:
    """Turn the graph's weight inputs into initializers holding the variables' values."""
    by_name = dict(named)
    kept = []
    for value in model_proto.graph.input:
        name = value.name[:-2] if value.name.endswith(":0") else value.name
        if name not in by_name:
            kept.append(value)
            continue
        array = by_name.pop(name).numpy()
        model_proto.graph.initializer.append(numpy_helper.from_array(array, value.name))
    if by_name:
        raise DeploymentError(f"tf2onnx dropped weight inputs {sorted(by_name)[:3]}...")
    del model_proto.graph.input[:]
    model_proto.graph.input.extend(kept)


def convert_onnx(model: Recognizer3D, target: DeployTarget, path: str | os.PathLike) -> list[str]:
    """Write the ONNX file of ``target`` to ``path``; return its operator types.

    tf2onnx converts the deployment graph with the weights as inputs (it would otherwise copy them
    many times over while freezing and optimising: >10 GB for Swin-B); they then become the file's
    initializers, named after the weights (``backbone.layers.0.blocks.0.attn.qkv.kernel``).

    Args:
        model: the Keras model (its variables become initializers).
        target: an ``onnx`` target; ``shape[0] is None`` gives a dynamic batch axis named ``batch``.
        path: the ``.onnx`` file to write.
    Raises:
        MissingDependencyError: tf2onnx or onnx is not installed.
        DeploymentError: tf2onnx failed, or wrote a node that is not a standard ONNX operator.
    """
    tf2onnx = require("tf2onnx", "writing ONNX files")
    onnx = require("onnx", "writing ONNX files")
    fn, named = deploy_function_with_weight_inputs(
        model, target.shape, kind=target.kind, dynamic_batch=target.shape[0] is None
    )
    try:
        with _optimizer_errors_raise():
            model_proto, _ = tf2onnx.convert.from_function(
                fn, input_signature=fn.input_signature, opset=ONNX_OPSET
            )
        _attach_weights(model_proto, named, onnx.numpy_helper)
        _name_batch_axis(model_proto)
        # tf2onnx keeps going past ops it cannot map (it writes them as-is): the checker rejects those.
        onnx.checker.check_model(model_proto)
    except Exception as e:
        raise DeploymentError(f"ONNX conversion of {target.kind} failed: {e}") from e
    onnx.save(model_proto, str(path))
    ops = sorted({node.op_type for node in model_proto.graph.node})
    logger.info("wrote %s (%.1f MB), ops %s", Path(path).name, Path(path).stat().st_size / 1e6, ops)
    return ops
