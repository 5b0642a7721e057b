"""Parity and drift of outputs against reference outputs (pure NumPy).

Parity is the max-abs difference per output on the seeded parity input: a float32 file must stay
within the port's tolerance. Drift describes what is lossy on purpose (float16 / int8 deployment files,
a model computing in bfloat16 or float16) on several seeded inputs: worst max-abs per output, the
lowest cosine similarity of pooled features, and how many of the reference's top-5 classes the logits
keep (and whether the top-1 class is kept).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

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


def max_abs(expected: Mapping[str, np.ndarray], actual: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Max-abs difference of every output in ``actual`` (shapes must agree)."""
    out = {}
    for name, got in actual.items():
        ref = np.asarray(expected[name], np.float64)
        got = np.asarray(got, np.float64)
        if ref.shape != got.shape:
            raise ValueError(f"output {name} has shape {got.shape}, expected {ref.shape}")
        out[name] = float(np.abs(ref - got).max())
    return out


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of two ``(B, D)`` arrays."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(norms, np.finfo(np.float64).tiny)


def top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest logits per row (ties by index)."""
    return np.argsort(-np.asarray(logits), axis=1, kind="stable")[:, :k]


def topk_overlap(reference: np.ndarray, actual: np.ndarray, k: int = 5) -> np.ndarray:
    """Per row, the fraction of the reference's top-``k`` classes that are in ``actual``'s top-``k``."""
    k = min(k, reference.shape[1])
    ref, got = top_k(reference, k), top_k(actual, k)
    return np.array([len(set(r) & set(g)) / k for r, g in zip(ref, got, strict=True)])


def drift(pairs: Sequence[tuple[Mapping[str, np.ndarray], Mapping[str, np.ndarray]]]) -> dict[str, float]:
    """Drift of a file over ``(expected, actual)`` output pairs (one per seeded input).

    Returns:
        ``<output>_max_abs`` (worst over inputs) for every output the file has, and, where the file has
        them, ``pooled_cosine_min`` (lowest per-sample cosine of pooled features),
        ``logits_top5_overlap`` (mean fraction of the reference top-5 kept) and ``logits_top1_agreement``
        (fraction of samples whose top-1 class is unchanged); ``inputs`` counts the inputs.
    """
    if not pairs:
        raise ValueError("drift needs at least one (expected, actual) pair")
    worst: dict[str, float] = {}
    cosines, overlaps, top1 = [], [], []
    for expected, actual in pairs:
        for name, value in max_abs(expected, actual).items():
            worst[name] = max(worst.get(name, 0.0), value)
        if "pooled" in actual:
            cosines.append(cosine_rows(expected["pooled"], actual["pooled"]))
        if "logits" in actual:
            overlaps.append(topk_overlap(expected["logits"], actual["logits"], 5))
            top1.append(top_k(expected["logits"], 1)[:, 0] == top_k(actual["logits"], 1)[:, 0])
    out = {f"{name}_max_abs": value for name, value in worst.items()}
    if cosines:
        out["pooled_cosine_min"] = float(np.concatenate(cosines).min())
    if overlaps:
        out["logits_top5_overlap"] = float(np.concatenate(overlaps).mean())
        out["logits_top1_agreement"] = float(np.concatenate(top1).mean())
    out["inputs"] = len(pairs)
    return out
