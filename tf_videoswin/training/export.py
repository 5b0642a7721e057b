"""The export of a fine-tuned model: the converter's format, contract, metadata and card.

Written by :func:`tf_videoswin.export.writer.write_export` (both SavedModels, reloaded and compared
with the in-memory model at two input shapes before the folder appears), with metadata of source kind
``finetuned``: the base variant and checkpoint, the recipe and run, the dataset's class names, and the
test pipeline at the clip size the model was trained on. ``predict``, ``evaluate``,
``from_pretrained`` and ``hub.KerasLayer`` read it like a converted export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Preprocessing
from ..export.metadata import ExportFile, ExportMetadata, runtime_versions
from ..export.writer import ReloadCase, write_export
from ..metrics import TRAINED_RELOAD_TOLERANCE
from ..model.recognizer import Recognizer3D
from ..variants import OFFICIAL_REPOSITORY, get_variant
from .recipe import Recipe


def test_preprocessing(base_variant: str, recipe: Recipe) -> Preprocessing:
    """The base variant's test pipeline at the recipe's clip size (short side = crop, as upstream's test)."""
    p = recipe.pipeline
    return dataclasses.replace(
        get_variant(base_variant).preprocessing,
        clip_len=p.clip_len,
        frame_interval=p.frame_interval,
        short_side=p.crop_size,
        crop_size=p.crop_size,
        mean=p.mean,
        std=p.std,
    )


def _outputs(model: Recognizer3D, video: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf

    return {k: v.numpy() for k, v in model(tf.constant(video), training=False).items()}


def export_finetuned(
    model: Recognizer3D,
    target: Path,
    *,
    name: str,
    labels: Sequence[str],
    dataset: str,
    base_variant: str,
    recipe: Recipe,
    source: dict[str, Any],
    overwrite: bool = False,
) -> ExportMetadata:
    """Write ``target`` (classifier + feature_extractor + metadata + card) from a fine-tuned model.

    Args:
        model: the trained model (gradient checkpointing is switched off before tracing). The export
            computes in float32 whatever precision the model trained in.
        target: the export folder.
        name: the export's ``variant`` field (the fine-tuned model's name).
        labels: class names in output order.
        dataset: dataset name for the card.
        base_variant: the registry variant the weights started from.
        recipe: the recipe trained with (its clip size becomes the export's test pipeline).
        source: provenance added to ``source`` (base checkpoint, run settings, results).
        overwrite: replace an existing ``target``.
    Returns:
        The metadata written.
    """
    model.set_gradient_checkpointing(False)
    model = model.with_precision("float32")
    pre = test_preprocessing(base_variant, recipe)
    rng = np.random.default_rng(0)
    video = rng.standard_normal((1, 3, pre.clip_len, pre.crop_size, pre.crop_size)).astype(np.float32)
    other = rng.standard_normal((2, 3, pre.clip_len + 2, pre.crop_size + 8, pre.crop_size + 24)).astype(
        np.float32
    )
    shape = "x".join(map(str, video.shape))
    cases = [
        ReloadCase(shape, video, _outputs(model, video), TRAINED_RELOAD_TOLERANCE),
        ReloadCase(
            "x".join(map(str, other.shape)),
            other,
            _outputs(model, other),
            TRAINED_RELOAD_TOLERANCE,
            check_call=False,
            parity_key="other_shape_max_abs",
        ),
    ]

    def metadata(reload_max_abs: dict[str, float], files: list[ExportFile]) -> ExportMetadata:
        return ExportMetadata(
            variant=name,
            architecture=model.config,
            preprocessing=pre,
            labels=tuple(labels),
            dataset=dataset,
            source={
                "kind": "finetuned",
                "base_variant": base_variant,
                "repository": OFFICIAL_REPOSITORY,
                "license": "Apache-2.0 (upstream weights); your data's terms apply to the fine-tuned weights",
                "recipe": recipe.to_dict(),
                **source,
            },
            accuracy=None,
            parity={},
            reload_max_abs=reload_max_abs,
            files=tuple(files),
            versions=runtime_versions(),
        )

    _, _ = write_export(model, target, labels, metadata, cases, overwrite=overwrite, name=name)
    return ExportMetadata.read(target)
