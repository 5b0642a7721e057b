"""LiteRT (TFLite) files of the deployment graph, builtin operators only.

The converter is TensorFlow's ``tf.lite.TFLiteConverter``, restricted to ``TFLITE_BUILTINS``: the
``ai-edge-litert`` interpreter has no Flex delegate, so a file with Select-TF (Flex) or custom operators
would not run there. :func:`check_builtin_only` reads the operator table of the flatbuffer and refuses
such a file even if a converter wrote one. The graph goes through a temporary SavedModel so the file
keeps a ``serving_default`` signature with named input (``video``) and outputs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import tensorflow as tf

from ...errors import DeploymentError
from ...model.recognizer import Recognizer3D
from .signatures import deploy_function
from .targets import DeployTarget, shape_tag

logger = logging.getLogger(__name__)


def _schema():
    try:
        from tensorflow.lite.python import schema_py_generated as schema
    except ImportError:  # pragma: no cover - TensorFlow builds without the Python schema
        from ai_edge_litert import schema_py_generated as schema
    return schema


def tflite_operators(data: bytes) -> list[str]:
    """The operator codes a TFLite flatbuffer uses: builtin names (``FULLY_CONNECTED``) and, for custom
    operators, ``CUSTOM:<code>`` (Select-TF ops are custom ops named ``Flex<Op>``)."""
    schema = _schema()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(data, 0)
    ops = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.CustomCode()
            ops.append(f"CUSTOM:{custom.decode() if custom else '?'}")
        else:
            ops.append(names.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(set(ops))


def check_builtin_only(data: bytes, name: str = "TFLite model") -> list[str]:
    """The builtin operators of ``data``; :class:`DeploymentError` if it has any Flex or custom operator."""
    ops = tflite_operators(data)
    custom = [op for op in ops if op.startswith("CUSTOM:")]
    if custom:
        raise DeploymentError(
            f"{name} needs operators outside the TFLite builtins ({', '.join(custom)}): the LiteRT "
            "interpreter cannot run it without the Flex delegate; not written"
        )
    return ops


def _configure(converter: tf.lite.TFLiteConverter, precision: str) -> None:
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "int8":  # dynamic range: int8 weights, float activations, no calibration data
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision != "float32":
        raise ValueError(f"unknown TFLite precision {precision!r}")


def save_deploy_graph(model: Recognizer3D, target: DeployTarget, path: str | os.PathLike) -> Path:
    """Write the deployment graph of ``target`` (kind and static shape) as a SavedModel at ``path``, the
    converter's input; one SavedModel serves every precision of a kind."""
    fn = deploy_function(model, target.shape, kind=target.kind)
    module = tf.Module()
    module.variables_ = [v.value for v in model.variables]  # what the function captures
    module.serve = fn
    tf.saved_model.save(module, str(path), signatures={"serving_default": fn.get_concrete_function()})
    return Path(path)


def convert_tflite(
    model: Recognizer3D, target: DeployTarget, workdir: str | os.PathLike | None = None
) -> tuple[bytes, list[str]]:
    """The TFLite flatbuffer of ``target`` and its operator list (builtins only).

    Args:
        model: the Keras model (its variables are frozen into the file).
        target: a ``tflite`` target with a static batch.
        workdir: a folder to keep the intermediate SavedModel in, so the other precisions of the same
            kind and shape reuse it (default: a temporary folder, removed after the conversion).
    Raises:
        DeploymentError: the converter failed, or the result needs non-builtin operators.
    """
    if target.format != "tflite" or target.shape[0] is None:
        raise ValueError(f"not a static-shape TFLite target: {target}")
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="videoswin-tflite-"))
        saved = Path(workdir) / f"{target.kind}.{shape_tag(target.shape)}.savedmodel"
        if not saved.is_dir():
            save_deploy_graph(model, target, saved)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        _configure(converter, target.precision)
        try:
            data = converter.convert()
        except Exception as e:  # ConverterError and friends: the message says which op failed
            raise DeploymentError(
                f"TFLite conversion of {target.kind} ({target.precision}) failed: {e}"
            ) from e
    ops = check_builtin_only(data, f"TFLite {target.kind} ({target.precision})")
    logger.info(
        "converted %s %s to TFLite: %.1f MB, ops %s", target.kind, target.precision, len(data) / 1e6, ops
    )
    return data, ops
