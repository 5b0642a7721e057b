"""The model a fine-tuning run starts from: pretrained backbone, new head.

The one place that builds the training model, so switches of the model itself (the compute precision)
are passed here and nowhere else: the loop computes the loss in float32 whatever the logits' dtype.
Variables stay float32 in every precision (bfloat16 needs no loss scaling: it has float32's range).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import VideoSwinConfig
from ..errors import TrainingError
from ..model.recognizer import Recognizer3D
from ..variants import get_variant


def build_finetune_model(
    variant: str,
    num_classes: int,
    checkpoint: str | os.PathLike | None = None,
    *,
    trust_checkpoint: bool = False,
    precision: str = "float32",
) -> tuple[Recognizer3D, dict[str, Any]]:
    """The variant's pretrained backbone with a new ``num_classes`` head, and where the weights came from.

    Args:
        variant: registry variant (architecture and recipe).
        num_classes: size of the new head.
        checkpoint: an upstream ``.pth`` of the variant, or an export folder of the same architecture;
            ``None`` downloads the upstream checkpoint.
        trust_checkpoint: allow full unpickling of a ``.pth`` that ``weights_only`` refuses.
        precision: what the matmuls compute in while training, ``"float32"`` or ``"bfloat16"``.
    Returns:
        ``(model, provenance)`` with ``checkpoint_url`` and ``checkpoint_sha256`` of the base weights.
    Raises:
        MissingDependencyError: a ``.pth`` needs torch (``pip install 'tf-videoswin[convert]'``).
        CheckpointError, CheckpointMismatchError, ExportFormatError, TrainingError: unusable weights.
    """
    from ..export.metadata import ExportMetadata
    from ..files import sha256_file
    from ..optional import require
    from ..pretrained import from_pretrained

    cfg = get_variant(variant)
    if checkpoint is not None and Path(checkpoint).is_dir():
        meta = ExportMetadata.read(checkpoint)
        if meta.architecture.replace(num_classes=0) != cfg.arch.replace(num_classes=0):
            raise TrainingError(f"{checkpoint} is not a {cfg.name} backbone (variant {meta.variant})")
        model = from_pretrained(Path(checkpoint), num_classes=num_classes, precision=precision)
        init_head(model)
        return model, {
            "checkpoint_url": meta.source.get("checkpoint_url", str(checkpoint)),
            "checkpoint_sha256": meta.source.get("checkpoint_sha256"),
            "base_export": str(checkpoint),
        }
    require("torch", "fine-tuning from an upstream .pth checkpoint")
    model = from_pretrained(
        cfg.name,
        checkpoint=checkpoint,
        num_classes=num_classes,
        trust_checkpoint=trust_checkpoint,
        precision=precision,
    )
    init_head(model)
    if checkpoint is None:
        return model, {"checkpoint_url": cfg.url, "checkpoint_sha256": cfg.checkpoint_sha256}
    return model, {"checkpoint_url": str(checkpoint), "checkpoint_sha256": sha256_file(checkpoint)}


def init_head(model: Recognizer3D, std: float = 0.01) -> None:
    """Upstream's ``I3DHead.init_weights``: ``normal_init(fc_cls, std=0.01)`` (normal weights, zero bias)."""
    import keras

    fc = model.cls_head.fc_cls
    fc.kernel.assign(keras.initializers.RandomNormal(stddev=std)(fc.kernel.shape))
    fc.bias.assign(keras.ops.zeros(fc.bias.shape))


def rebuild_model(architecture: dict[str, Any], name: str, precision: str = "float32") -> Recognizer3D:
    """A model of a saved architecture (random weights), to load a training checkpoint into."""
    return Recognizer3D(VideoSwinConfig.from_dict(architecture), precision=precision, name=name)
