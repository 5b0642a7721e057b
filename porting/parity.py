"""The models' side of parity: the seeded input, each model's outputs (and every block's), and
:func:`compare_models`, which runs both and compares them with :func:`tf_videoswin.metrics.compare`
(the metrics, the report and the tolerances live there)."""

from __future__ import annotations

import numpy as np

from tf_videoswin.metrics import DEFAULT_TOLERANCE, ParityReport, compare

#: A seeded input whose T/H/W need patch padding, window padding and window clipping.
DEFAULT_PARITY_SHAPE = (1, 3, 18, 70, 90)
#: A second shape, different from the parity shape and never traced by an export: batch 2, other T/H/W.
SECOND_PARITY_SHAPE = (2, 3, 10, 64, 96)


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
