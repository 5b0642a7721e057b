"""The PyTorch reference on the views an export saw: the port's faithfulness on real videos.

The reference is built by :func:`porting.pipeline.port_checkpoint` from the checkpoint the export was
converted from (the same intake as the converter: ``weights_only`` loading, architecture and value
checks, strict ``load_state_dict``). Needs the ``convert`` extra (torch, einops).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..export.metadata import ExportMetadata
from ..export.serving import softmax
from ..files import sha256_file


@dataclasses.dataclass(frozen=True)
class Comparison:
    """TF vs reference on one video."""

    path: str
    tf_top1: int
    torch_top1: int
    max_prob_diff: float

    @property
    def agree(self) -> bool:
        return self.tf_top1 == self.torch_top1


def load_reference(metadata: ExportMetadata, checkpoint: str | os.PathLike, trust_checkpoint: bool = False):
    """The strictly loaded ``reference_torch`` model of the export's variant and checkpoint.

    Raises:
        MissingDependencyError: torch or einops is not installed (the ``convert`` extra).
        ExportFormatError: the export is not a converted registry variant.
        CheckpointError: the checkpoint is not the one the export was converted from (sha256).
    """
    from ..errors import CheckpointError, ExportFormatError
    from ..optional import require
    from ..variants import VARIANTS

    require("torch", "--compare-torch")
    require("einops", "--compare-torch")
    if metadata.source.get("kind") != "converted" or metadata.variant not in VARIANTS:
        raise ExportFormatError(
            f"--compare-torch needs an export converted from an upstream checkpoint; "
            f"this one is {metadata.source.get('kind')!r} ({metadata.variant})"
        )
    expected = metadata.source.get("checkpoint_sha256")
    actual = sha256_file(checkpoint)
    if expected and actual != expected:
        raise CheckpointError(
            f"{checkpoint} (sha256 {actual[:12]}…) is not the checkpoint the export was converted from "
            f"({expected[:12]}…)"
        )
    from porting.port import port_checkpoint

    ported = port_checkpoint(metadata.variant, checkpoint, trust_checkpoint=trust_checkpoint, reference=True)
    ported.tf_model = None  # the export is what is compared; free the Keras copy
    return ported.reference


def reference_probabilities(torch_model, views: np.ndarray, batch_size: int = 4) -> np.ndarray:
    """Softmax of the reference's logits per view, averaged over views (float64), as the export's."""
    import torch

    logits = []
    with torch.no_grad():
        for i in range(0, len(views), batch_size):
            logits.append(torch_model(torch.from_numpy(views[i : i + batch_size]))["logits"].numpy())
    return softmax(np.concatenate(logits).astype(np.float64)).mean(axis=0)


def compare(path: str, tf_probs: np.ndarray, torch_probs: np.ndarray) -> Comparison:
    return Comparison(
        path,
        int(np.argmax(tf_probs)),
        int(np.argmax(torch_probs)),
        float(np.abs(tf_probs - torch_probs).max()),
    )
