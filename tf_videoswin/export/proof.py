"""The inputs a written file is proven on: a clip and the reference outputs for it (pure NumPy).

The comparisons themselves (max-abs parity, drift of lossy files) are :mod:`tf_videoswin.metrics`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class ProofInput:
    """A clip and the reference outputs (``logits``, ``features``, ``pooled``) for it.

    ``video`` may be larger than a file's batch: :func:`batched` takes the rows a file needs.
    """

    name: str
    video: np.ndarray
    expected: Mapping[str, np.ndarray]


def batched(case: ProofInput, batch: int) -> ProofInput:
    """``case`` with exactly ``batch`` rows: a prefix, or the rows repeated cyclically (samples are
    independent in inference, so the expected outputs follow the same rows)."""
    rows = np.arange(batch) % case.video.shape[0]
    return ProofInput(
        f"{case.name}[b{batch}]", case.video[rows], {k: np.asarray(v)[rows] for k, v in case.expected.items()}
    )
