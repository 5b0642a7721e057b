"""Every comparison of outputs with reference outputs, in NumPy, and the tolerances they are held to.

Parity is the max-abs difference per output on a seeded input: :func:`compare` makes a
:class:`ParityReport` (max-abs and mean-abs per output, in order, so the first failing row of a
per-block comparison is the first diverging block). A reloaded file must reproduce the model it was
written from to float32 round-off (:data:`RELOAD_TOLERANCE`). Drift describes what is lossy on purpose
(float16 / int8 deployment files, a model computing in bfloat16 or float16) on several seeded inputs:
worst max-abs per output, the lowest cosine similarity of pooled features, and how many of the
reference's top-5 classes the logits keep (and whether the top-1 class is kept).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

#: float32 ports of the official model agree to ~1e-5; above 1e-4 max-abs is a bug.
DEFAULT_TOLERANCE = 1e-4
#: A reloaded export (SavedModel, Keras file) of a port must reproduce the in-memory model to float32
#: round-off.
RELOAD_TOLERANCE = 1e-6
#: The same reload check for weights that came out of fine-tuning rather than a proven port: a
#: fine-tuned export against its in-memory model, and a Keras model rebuilt from any export's
#: SavedModel variables (fine-tuned ones included) against that SavedModel.
TRAINED_RELOAD_TOLERANCE = 1e-5


@dataclasses.dataclass(frozen=True)
class ParityRow:
    name: str
    shape: tuple[int, ...]
    max_abs: float
    mean_abs: float
    tolerance: float

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_abs)) and self.max_abs <= self.tolerance


@dataclasses.dataclass(frozen=True)
class ParityReport:
    rows: tuple[ParityRow, ...]
    input_shape: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def input_shape_name(self) -> str:
        return "x".join(map(str, self.input_shape))

    @property
    def first_failure(self) -> ParityRow | None:
        return next((r for r in self.rows if not r.ok), None)

    def max_abs(self, name: str) -> float:
        return next(r.max_abs for r in self.rows if r.name == name)

    def as_dict(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "ok": self.ok,
            "outputs": {
                r.name: {"max_abs": r.max_abs, "mean_abs": r.mean_abs, "tolerance": r.tolerance, "ok": r.ok}
                for r in self.rows
            },
        }

    def format(self) -> str:
        width = max(len(r.name) for r in self.rows)
        lines = [f"{'output':<{width}}  {'shape':<22} {'max_abs':>10} {'mean_abs':>10}  status"]
        for r in self.rows:
            status = "ok" if r.ok else f"FAIL (> {r.tolerance:g})"
            lines.append(
                f"{r.name:<{width}}  {list(r.shape)!s:<22} {r.max_abs:>10.3e} {r.mean_abs:>10.3e}  {status}"
            )
        return "\n".join(lines)


def compare(
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    input_shape: tuple[int, ...],
    tolerance: float = DEFAULT_TOLERANCE,
) -> ParityReport:
    """Max-abs and mean-abs difference of every output present in ``expected`` (in its order)."""
    rows = []
    for name, ref in expected.items():
        ref = np.asarray(ref, np.float64)
        got = np.asarray(actual[name], np.float64)
        if ref.shape != got.shape:
            rows.append(ParityRow(name, tuple(got.shape), float("inf"), float("inf"), tolerance))
            continue
        diff = np.abs(ref - got)
        rows.append(ParityRow(name, tuple(ref.shape), float(diff.max()), float(diff.mean()), tolerance))
    return ParityReport(tuple(rows), tuple(input_shape))


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
