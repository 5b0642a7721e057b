"""Run a deployment file in its runtime: one ``run(video) -> {output: array}`` over LiteRT, ONNX Runtime
and OpenVINO.

- ``.tflite``: the ``ai-edge-litert`` interpreter (XNNPACK on CPU), through the file's
  ``serving_default`` signature;
- ``.onnx``: ONNX Runtime (CPU execution provider) or OpenVINO (which reads ONNX directly);
- ``.xml``: OpenVINO IR.

OpenVINO is compiled with ``INFERENCE_PRECISION_HINT=f32`` unless told otherwise: its CPU default is
bfloat16 arithmetic on CPUs that have it, which is not a float32 result.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from ...optional import require

#: Runtimes that can run each file type, the first being the default.
RUNTIMES = {".tflite": ("litert",), ".onnx": ("onnxruntime", "openvino"), ".xml": ("openvino",)}
_DISTRIBUTIONS = {"litert": "ai-edge-litert", "onnxruntime": "onnxruntime", "openvino": "openvino"}
_MODULES = {"litert": "ai_edge_litert.interpreter", "onnxruntime": "onnxruntime", "openvino": "openvino"}


def runtime_version(runtime: str) -> str:
    """``"<runtime> <version>"`` of an installed runtime."""
    try:
        return f"{runtime} {version(_DISTRIBUTIONS[runtime])}"
    except PackageNotFoundError:
        return runtime


@dataclasses.dataclass
class Runner:
    """A deployment file loaded in a runtime.

    Attributes:
        path: the file.
        runtime: ``litert``, ``onnxruntime`` or ``openvino``.
        input_shape: the file's input shape; ``None`` for a dynamic axis.
        outputs: output names.
        run: ``run(video) -> {name: array}`` for a float32 ``(B, 3, T, H, W)`` clip.
        precision_hint: OpenVINO's inference precision (``f32``, ``bf16``), else ``None``.
    """

    path: Path
    runtime: str
    input_shape: tuple[int | None, ...]
    outputs: tuple[str, ...]
    run: Callable[[np.ndarray], dict[str, np.ndarray]]
    precision_hint: str | None = None

    @property
    def description(self) -> str:
        hint = f" ({self.precision_hint})" if self.precision_hint else ""
        return runtime_version(self.runtime) + hint


def _litert(path: Path, threads: int | None) -> Runner:
    interpreter_module = require(_MODULES["litert"], "running TFLite files")
    interpreter = interpreter_module.Interpreter(model_path=str(path), num_threads=threads)
    runner = interpreter.get_signature_runner("serving_default")
    details = runner.get_input_details()["video"]
    outputs = tuple(sorted(runner.get_output_details()))

    def run(video: np.ndarray) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in runner(video=np.ascontiguousarray(video, np.float32)).items()}

    return Runner(path, "litert", tuple(int(d) for d in details["shape"]), outputs, run)


def _onnxruntime(path: Path, threads: int | None) -> Runner:
    ort = require("onnxruntime", "running ONNX files")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    outputs = tuple(o.name for o in session.get_outputs())

    def run(video: np.ndarray) -> dict[str, np.ndarray]:
        values = session.run(None, {inp.name: np.ascontiguousarray(video, np.float32)})
        return dict(zip(outputs, values, strict=True))

    shape = tuple(d if isinstance(d, int) else None for d in inp.shape)
    return Runner(path, "onnxruntime", shape, outputs, run)


def _openvino(path: Path, threads: int | None, precision_hint: str) -> Runner:
    ov = require("openvino", "running OpenVINO and ONNX files in OpenVINO")
    config = {"INFERENCE_PRECISION_HINT": precision_hint}
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    compiled = ov.Core().compile_model(str(path), "CPU", config)
    request = compiled.create_infer_request()
    outputs = tuple(o.get_any_name() for o in compiled.outputs)
    partial = compiled.inputs[0].get_partial_shape()
    shape = tuple(d.get_length() if d.is_static else None for d in partial)

    def run(video: np.ndarray) -> dict[str, np.ndarray]:
        result = request.infer({0: np.ascontiguousarray(video, np.float32)})
        return {o.get_any_name(): np.array(v) for o, v in result.items()}

    return Runner(path, "openvino", shape, outputs, run, precision_hint)


def open_runner(
    path: str | os.PathLike,
    runtime: str | None = None,
    threads: int | None = None,
    precision_hint: str = "f32",
) -> Runner:
    """Load a deployment file in a runtime.

    Args:
        path: a ``.tflite``, ``.onnx`` or ``.xml`` file.
        runtime: one of :data:`RUNTIMES` for the file type (default: the first).
        threads: CPU threads (default: the runtime's choice).
        precision_hint: OpenVINO's inference precision (``f32``; ``bf16`` is its CPU default).
    Raises:
        MissingDependencyError: the runtime is not installed.
        ValueError: an unknown file type or a runtime that cannot run it.
    """
    path = Path(path)
    choices = RUNTIMES.get(path.suffix)
    if choices is None:
        raise ValueError(f"{path.name}: not a deployment file (expected one of {sorted(RUNTIMES)})")
    runtime = runtime or choices[0]
    if runtime not in choices:
        raise ValueError(f"{path.name} runs in {', '.join(choices)}, not {runtime}")
    if runtime == "litert":
        return _litert(path, threads)
    if runtime == "onnxruntime":
        return _onnxruntime(path, threads)
    return _openvino(path, threads, precision_hint)
