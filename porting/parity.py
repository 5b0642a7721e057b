"""Numerical comparison of the Keras port against the PyTorch reference, output by output.

:func:`compare` turns two dicts of outputs into a :class:`ParityReport` (max-abs and mean-abs per
output, in order, so the first failing row of a per-block comparison is the first diverging block);
:func:`compare_models` runs both models on one input and compares them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

#: float32 ports of the official model agree to ~1e-5; above 1e-4 max-abs is a bug.
DEFAULT_TOLERANCE = 1e-4
#: A seeded input whose T/H/W need patch padding, window padding and window clipping.
DEFAULT_PARITY_SHAPE = (1, 3, 18, 70, 90)
#: A second shape, different from the parity shape and never traced by an export: batch 2, other T/H/W.
SECOND_PARITY_SHAPE = (2, 3, 10, 64, 96)


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


def parity_input(shape: tuple[int, ...] = DEFAULT_PARITY_SHAPE, seed: int = 0) -> np.ndarray:
    """The seeded standard-normal clip (already "normalised") used for parity checks."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def torch_outputs(torch_model, video: np.ndarray, intermediates: bool = False) -> dict[str, np.ndarray]:
    """Reference outputs (and, optionally, every stage/block output via forward hooks)."""
    import torch

    captured: dict[str, np.ndarray] = {}
    handles = []
    if intermediates:
        names = ["patch_embed"]
        for i, layer in enumerate(torch_model.backbone.layers):
            names += [f"layers.{i}.blocks.{j}" for j in range(len(layer.blocks))] + [f"layers.{i}"]
        # The final norm (``norm`` or mmaction2's ``norm3``) is compared through the backbone output below.
        modules = dict(torch_model.backbone.named_modules())
        for name in names:

            def hook(_m, _inp, out, name=name):
                captured[name] = out.detach().numpy()

            handles.append(modules[name].register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = torch_model(torch.from_numpy(video))
    finally:
        for h in handles:
            h.remove()
    result = {k: out[k].numpy() for k in ("logits", "pooled", "features")}
    if intermediates:
        # The final backbone norm runs channels-last; compare the NCTHW backbone output instead.
        captured["norm"] = result["features"]
        result.update((f"backbone.{k}", v) for k, v in captured.items())
    return result


def tf_outputs(tf_model, video: np.ndarray, intermediates: bool = False) -> dict[str, np.ndarray]:
    """Keras outputs in the same naming as :func:`torch_outputs`, on whatever backend Keras runs."""
    import keras

    numpy = keras.ops.convert_to_numpy
    x = keras.ops.convert_to_tensor(video)
    if not intermediates:
        return {k: numpy(v) for k, v in tf_model(x, training=False).items()}
    inter: dict = {}
    features = tf_model.forward_features(x, training=False, on_output=inter.__setitem__)
    pooled = tf_model.pool(features)
    result = {
        "logits": numpy(tf_model.forward_head(pooled, training=False)),
        "pooled": numpy(pooled),
        "features": numpy(features),
    }
    result.update((f"backbone.{k}", numpy(v)) for k, v in inter.items())
    return result


def compare_models(
    tf_model,
    torch_model,
    video: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
    intermediates: bool = False,
) -> ParityReport:
    """Compare logits, pooled and features (and every block if ``intermediates``)."""
    expected = torch_outputs(torch_model, video, intermediates)
    actual = tf_outputs(tf_model, video, intermediates)
    if intermediates:
        # Report in forward order so the first failing row is the first diverging block.
        order = [k for k in expected if k.startswith("backbone.")] + ["features", "pooled", "logits"]
        expected = {k: expected[k] for k in order}
    return compare(expected, actual, video.shape, tolerance)
