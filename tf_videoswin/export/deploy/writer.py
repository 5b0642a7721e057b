"""Write deployment files and prove each one in its runtime before it is kept.

Every file is run on the seeded parity input at its clip shape and compared with the reference outputs
(``reference_torch`` when called from the converter): a float32 file that differs by more than the
tolerance raises :class:`~tf_videoswin.errors.ExportCheckError`, and the caller's atomic directory then
keeps nothing. ONNX files are run in ONNX Runtime and in OpenVINO, at the deploy batch and at one more
(the batch axis is dynamic). Lossy files (float16 and int8 weights) are not held to the tolerance: their
drift on several seeded inputs is measured and recorded instead, and they are never called exact.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from ...errors import ExportCheckError
from ...files import sha256_file
from ...metrics import drift, max_abs
from ...model.recognizer import Recognizer3D
from ...model.static_forward import KIND_OUTPUTS
from ..metadata import ExportFile
from ..proof import ProofInput, batched
from .runtimes import RUNTIMES, open_runner
from .targets import DeployTarget

logger = logging.getLogger(__name__)

_SOURCES = {
    "tflite": "tf_videoswin.model.static_forward graph -> tf.lite.TFLiteConverter (TFLITE_BUILTINS only)",
    "onnx": "tf_videoswin.model.static_forward graph -> tf2onnx (opset 17)",
    "openvino": "tf_videoswin.model.static_forward graph -> tf2onnx -> openvino.convert_model",
}
_WEIGHTS = {
    "float32": "float32",
    "float16": "float16 (dequantized to float32 at load)",
    "int8": "int8 dynamic range",
}


def _proof_batches(target: DeployTarget, parity: ProofInput) -> list[int]:
    """Batch sizes a file is proven at: its own, or (dynamic batch) the parity input's and one more."""
    if target.shape[0] is not None:
        return [int(target.shape[0])]
    batch = int(parity.video.shape[0])
    return [batch, batch + 1]


def prove_file(
    path: Path,
    target: DeployTarget,
    parity: ProofInput,
    drift_inputs: Sequence[ProofInput],
    tolerance: float,
) -> tuple[dict, dict]:
    """Run ``path`` in every runtime of its type; return ``(parity, details)`` for its :class:`ExportFile`.

    Raises:
        ExportCheckError: a float32 file differs from the reference by more than ``tolerance``, or a
            file returns other outputs or shapes than the reference.
    """
    names = KIND_OUTPUTS[target.kind]
    batches = _proof_batches(target, parity)
    worst: dict[str, float] = {}
    runtimes, per_runtime = [], {}
    drift_figures: dict[str, float] = {}
    for runtime in RUNTIMES[path.suffix]:
        runner = open_runner(path, runtime)
        runtimes.append(runner.description)
        if set(runner.outputs) != set(names):
            raise ExportCheckError(
                f"{path.name} has outputs {sorted(runner.outputs)}, expected {sorted(names)}"
            )
        found = 0.0
        for batch in batches:
            case = batched(parity, batch)
            try:
                diffs = max_abs(case.expected, runner.run(case.video))
            except ValueError as e:
                raise ExportCheckError(f"{path.name} in {runner.description}: {e}") from e
            for name, diff in diffs.items():
                worst[name] = max(worst.get(name, 0.0), diff)
                found = max(found, diff)
                if target.exact and not diff <= tolerance:
                    raise ExportCheckError(
                        f"{path.name} in {runner.description} differs from the reference by {diff:.3e} "
                        f"(> {tolerance:g}) on {name} at batch {batch}"
                    )
        per_runtime[runner.description] = found
        if not target.exact and not drift_figures:
            pairs = []
            for case in drift_inputs:
                case = batched(case, batches[0])
                pairs.append((case.expected, runner.run(case.video)))
            drift_figures = drift(pairs)
        del runner
        gc.collect()
    figures: dict = {
        "vs_reference_max_abs": max(worst.values()),
        "outputs_max_abs": worst,
        "runtimes_max_abs": per_runtime,
        "exact": target.exact,
    }
    if target.exact:
        figures["tolerance"] = tolerance
    else:
        figures["drift"] = drift_figures
    details = {
        "runtimes": runtimes,
        "input_shape": list(target.shape),
        "outputs": list(names),
        "weights": _WEIGHTS[target.precision],
        "parity_input": f"{parity.name} at batch {', '.join(map(str, batches))}",
    }
    if not target.exact:
        details["drift_inputs"] = [c.name for c in drift_inputs]
        details["note"] = "lossy: weights are stored in lower precision; outputs drift from float32"
    return figures, details


def _convert(
    model: Recognizer3D, target: DeployTarget, path: Path, onnx_files: dict[tuple, Path], scratch: Path
) -> tuple[list[str], dict]:
    """Write one target's file(s); return its operator list and extra details."""
    if target.format == "tflite":
        from .tflite_file import convert_tflite

        data, ops = convert_tflite(model, target, workdir=scratch)
        path.write_bytes(data)
        return ops, {}
    from .onnx_file import convert_onnx

    if target.format == "onnx":
        ops = convert_onnx(model, target, path)
        onnx_files[(target.kind, target.shape)] = path
        return ops, {}
    from .openvino_file import convert_openvino

    onnx_path = onnx_files.get((target.kind, target.shape))
    if onnx_path is None:
        onnx_path = scratch / path.with_suffix(".onnx").name
        convert_onnx(model, target, onnx_path)
    ops = convert_openvino(onnx_path, path)
    bin_path = path.with_suffix(".bin")
    return ops, {"weights_file": bin_path.name, "weights_sha256": sha256_file(bin_path)}


def write_deploy_files(
    model: Recognizer3D,
    folder: str | os.PathLike,
    stem: str,
    targets: Sequence[DeployTarget],
    parity: ProofInput,
    drift_inputs: Sequence[ProofInput] = (),
    tolerance: float = 1e-4,
    progress: bool = True,
) -> list[ExportFile]:
    """Convert, write and prove every target into ``folder``.

    Args:
        model: the Keras model with the weights.
        folder: where to write (the export root; normally inside an atomic directory).
        stem: file-name stem (the variant name).
        targets: from :func:`~tf_videoswin.export.deploy.targets.plan_targets`.
        parity: the seeded parity input at the deploy shape and the reference outputs for it.
        drift_inputs: further seeded inputs (and reference outputs) to measure lossy files' drift on.
        tolerance: max-abs tolerance of float32 files.
        progress: show a progress bar on stderr.
    Returns:
        One :class:`ExportFile` per file (OpenVINO: the ``.xml``, whose ``.bin`` is in ``details``).
    Raises:
        ExportCheckError: a float32 file does not reproduce the reference.
        DeploymentError: a conversion failed, or a TFLite file needs non-builtin ops.
        MissingDependencyError: a converter or runtime is not installed.
    """
    folder = Path(folder)
    if any(not t.exact for t in targets) and not drift_inputs:
        raise ValueError("lossy deployment files need drift_inputs to measure their drift on")
    written: list[ExportFile] = []
    onnx_files: dict[tuple, Path] = {}
    with tempfile.TemporaryDirectory(prefix="videoswin-deploy-") as scratch:
        bar = tqdm(targets, desc="deployment files", unit="file", disable=not progress)
        for target in bar:
            path = folder / target.filename(stem)
            bar.set_postfix_str(path.name)
            ops, extra = _convert(model, target, path, onnx_files, Path(scratch))
            figures, details = prove_file(path, target, parity, drift_inputs, tolerance)
            size = path.stat().st_size + sum(
                (folder / extra[k]).stat().st_size for k in ("weights_file",) if k in extra
            )
            details.update(extra, source=_SOURCES[target.format], operators=ops)
            written.append(
                ExportFile(
                    path=path.name,
                    format=target.format,
                    sha256=sha256_file(path),
                    size_bytes=size,
                    kind=target.kind,
                    precision=target.precision,
                    parity=figures,
                    details=details,
                )
            )
            logger.info("%s: max abs vs reference %.2e", path.name, figures["vs_reference_max_abs"])
    return written
