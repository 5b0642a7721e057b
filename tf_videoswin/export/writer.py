"""Writing a whole export folder: both SavedModels, optional Keras files, metadata and model card.

One writer for every producer of exports: the converter (``porting.pipeline.convert``) and the
fine-tuning app (:mod:`tf_videoswin.training.export`). The folder is built in a temporary directory
and replaces the target only when both SavedModels have been reloaded and reproduce the expected
outputs (:func:`verify_reload`), so an export on disk is always complete and checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ExportCheckError
from ..files import atomic_directory, sha256_tree, tree_size
from ..model.recognizer import Recognizer3D
from .keras_files import KERAS_FORMATS, save_keras_files
from .metadata import EXPORT_KINDS, METADATA_FILE, ExportFile, ExportMetadata
from .model_card import render_model_card
from .savedmodel import save_export

#: The format name of the two SavedModels (always written: they are the export).
SAVEDMODEL = "savedmodel"


@dataclasses.dataclass(frozen=True)
class ReloadCase:
    """An input, the outputs the reloaded exports must give for it, and how close.

    ``parity_key`` names the figure this case contributes to each SavedModel's ``parity`` entry in
    the metadata (the largest difference over the cases that share the key).
    """

    name: str
    video: np.ndarray
    expected: dict[str, np.ndarray]  # logits, features, pooled
    tolerance: float
    check_call: bool = True  # also compare ``__call__``, not only ``serving_default``
    parity_key: str = "reload_max_abs"


def verify_reload(export_dir: Path, cases: Sequence[ReloadCase]) -> dict[str, float]:
    """Reload both SavedModels and compare signatures (and ``__call__``) with expected outputs.

    Returns:
        ``{"<kind>.<function>[.<output>]@<case>": max_abs}`` for every comparison.
    Raises:
        ExportCheckError: a shape differs or a difference exceeds the case's tolerance.
    """
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


def savedmodel_files(
    root: Path, reload_max_abs: dict[str, float], cases: Sequence[ReloadCase]
) -> list[ExportFile]:
    """The :class:`ExportFile` entries of both SavedModels, with each case's figure under its key."""
    files = []
    for kind in EXPORT_KINDS:
        parity: dict[str, float] = {}
        for case in cases:
            rows = [
                v
                for k, v in reload_max_abs.items()
                if k.startswith(f"{kind}.") and k.endswith(f"@{case.name}")
            ]
            if rows:
                parity[case.parity_key] = max(parity.get(case.parity_key, 0.0), *rows)
        files.append(
            ExportFile(
                path=kind,
                format=SAVEDMODEL,
                sha256=sha256_tree(root / kind, exclude=(METADATA_FILE,)),
                size_bytes=tree_size(root / kind),
                kind=kind,
                parity=parity,
            )
        )
    return files


def write_export(
    model: Recognizer3D,
    target: Path,
    labels: Sequence[str],
    metadata_fn: Callable[[dict[str, float], list[ExportFile]], ExportMetadata],
    cases: Sequence[ReloadCase],
    *,
    overwrite: bool = False,
    formats: Sequence[str] = (SAVEDMODEL,),
    name: str | None = None,
    extra_files: Callable[[Path], list[ExportFile]] | None = None,
) -> tuple[dict[str, float], tuple[ExportFile, ...]]:
    """Write classifier + feature_extractor (+ Keras files) + metadata + card into ``target`` atomically.

    Args:
        model: the Keras model (with a classification head).
        target: the export folder; replaced only once everything is written and verified.
        labels: class names in output order (``classifier/assets/labels.txt``).
        metadata_fn: ``metadata_fn(reload_max_abs, files)`` builds the :class:`ExportMetadata` once
            the SavedModels are verified.
        cases: reload checks (see :class:`ReloadCase`); the first case's input also checks Keras files.
        overwrite: replace an existing ``target``.
        formats: ``savedmodel`` plus any of ``keras``, ``weights``.
        name: file name stem of the Keras files (default: the model's name).
        extra_files: called with the temporary folder after the Keras files; writes more files there
            (e.g. deployment files, each proven before it is kept) and returns their entries.
    Returns:
        ``(reload_max_abs, files)``.
    Raises:
        ExportCheckError: a reloaded file does not reproduce the model.
        FileExistsError: ``target`` exists and not ``overwrite``.
    """
    with atomic_directory(target, overwrite=overwrite) as tmp:
        save_export(model, "classifier", tmp / "classifier", labels=list(labels))
        save_export(model, "feature_extractor", tmp / "feature_extractor")
        reload_max_abs = verify_reload(tmp, cases)
        files = savedmodel_files(tmp, reload_max_abs, cases)
        keras_formats = [f for f in formats if f in KERAS_FORMATS]
        files += save_keras_files(model, tmp, keras_formats, [cases[0].video], name=name or model.name)
        if extra_files is not None:
            files += extra_files(tmp)
        metadata = metadata_fn(reload_max_abs, files)
        metadata.write(tmp)
        (tmp / "README.md").write_text(render_model_card(metadata), encoding="utf-8")
    return reload_max_abs, tuple(files)
