"""The checks of ``tests/test_backends.py`` that must run in a process of their own Keras backend.

``KERAS_BACKEND`` is read once, when Keras is imported, so each backend gets a fresh interpreter:
``python -m tests.backend_worker --backend jax ...`` (the parent sets ``KERAS_BACKEND``). TensorFlow is
made unimportable first, so every check also proves that the model runs without it. Prints one JSON
object of measured differences and facts; the parent test asserts on them.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import sys
from pathlib import Path

import numpy as np

#: Modules a JAX or PyTorch process must never import.
BLOCKED = ("tensorflow", "tf_keras", "tensorflow_hub")


class _RaisingLoader(importlib.abc.Loader):
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {spec.name!r} (blocked in this test process)")

    def exec_module(self, module) -> None:  # never reached: create_module raises
        raise ModuleNotFoundError(module.__name__)


class _Unimportable(importlib.abc.MetaPathFinder):
    """Import hook: importing a blocked module raises ModuleNotFoundError, as in an environment without
    it. Its spec has no origin, so libraries that only probe for it (``find_spec``) carry on."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return importlib.machinery.ModuleSpec(name, _RaisingLoader())
        return None


def _max_abs(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max())


def _numpy(outputs: dict) -> dict[str, np.ndarray]:
    import keras

    return {k: keras.ops.convert_to_numpy(v) for k, v in outputs.items()}


def golden_checks(args: argparse.Namespace, report: dict) -> None:
    """Each synthetic checkpoint through ``from_pretrained`` against the official goldens, and the
    Swin-T model in channels-last against channels-first."""
    import tf_videoswin

    for name, checkpoint in (
        ("swin_tiny_patch244_window877_kinetics400_1k", args.tiny_checkpoint),
        ("swin_base_patch244_window1677_sthv2", args.sthv2_checkpoint),
    ):
        with np.load(Path(args.golden_dir) / f"golden_{name}_small.npz") as data:
            golden = {k: data[k] for k in data.files}
        model = tf_videoswin.from_pretrained(name, checkpoint=checkpoint, progress=False)
        native = model(golden["input"])
        report[f"native/{name}"] = type(native["logits"]).__module__
        if name.startswith("swin_tiny") and hasattr(model, "_jax_forward"):  # the program that just ran
            compiled = model._jax_forward.lower([v.value for v in model.variables], golden["input"]).compile()
            report["jax_ynn_fusions"] = compiled.as_text().count("__ynn_fusion")
        out = _numpy(native)
        report[f"golden/{name}"] = {k: _max_abs(out[k], golden[k]) for k in ("features", "pooled", "logits")}
        # the same model object at another clip size: no rebuild, no fixed input shape
        other = model(np.zeros((1, 3, 10, 48, 64), np.float32))
        report[f"other_shape/{name}"] = [list(other["features"].shape), list(other["logits"].shape)]
        if name.startswith("swin_tiny"):
            last = tf_videoswin.from_pretrained(
                name, checkpoint=checkpoint, progress=False, data_format="channels_last"
            )
            out_last = _numpy(last(np.ascontiguousarray(golden["input"].transpose(0, 2, 3, 4, 1))))
            report["channels_last"] = {
                "features": _max_abs(out_last["features"].transpose(0, 4, 1, 2, 3), out["features"]),
                "pooled": _max_abs(out_last["pooled"], out["pooled"]),
                "logits": _max_abs(out_last["logits"], out["logits"]),
            }
            try:
                last(golden["input"])
                report["channels_first_clip_refused"] = False
            except tf_videoswin.ClipShapeError:
                report["channels_first_clip_refused"] = True


def weights_checks(args: argparse.Namespace, report: dict) -> None:
    """A ``.weights.h5`` written on TensorFlow loads here with the same numbers; an export folder
    loads from its weights file; weights of another variant are refused by name."""
    import tf_videoswin

    name = "swin_tiny_patch244_window877_kinetics400_1k"
    with np.load(args.tf_outputs) as data:
        tf_out = {k: data[k] for k in data.files}
    model = tf_videoswin.from_pretrained(name, weights=args.tf_weights)
    out = _numpy(model(tf_out["input"]))
    report["tf_weights"] = {k: _max_abs(out[k], tf_out[k]) for k in ("features", "pooled", "logits")}
    if args.export:
        exported = _numpy(tf_videoswin.from_pretrained(args.export)(tf_out["input"]))
        report["export_folder"] = {k: _max_abs(exported[k], tf_out[k]) for k in ("features", "logits")}
        keras_file = Path(args.export) / "swin_tiny_patch244_window877_kinetics400_1k.keras"
        reloaded = _numpy(tf_videoswin.from_pretrained(keras_file)(tf_out["input"]))
        report["keras_file"] = {k: _max_abs(reloaded[k], tf_out[k]) for k in ("features", "logits")}
        preset = _numpy(
            tf_videoswin.from_pretrained(Path(args.tf_outputs).parent / "preset")(tf_out["input"])
        )
        report["preset"] = {k: _max_abs(preset[k], tf_out[k]) for k in ("features", "logits")}
        try:
            tf_videoswin.load_export_model(Path(args.export) / "classifier")
            report["savedmodel_refused"] = None
        except tf_videoswin.BackendError as e:
            report["savedmodel_refused"] = str(e)
    try:
        tf_videoswin.from_pretrained("swin_small_patch244_window877_kinetics400_1k", weights=args.tf_weights)
        report["other_variant_refused"] = None
    except tf_videoswin.CheckpointMismatchError as e:
        report["other_variant_refused"] = str(e)[:200]


def tensorflow_action_checks(args: argparse.Namespace, report: dict) -> None:
    """With TensorFlow installed but Keras on this backend, writing an export is refused by name."""
    import tf_videoswin
    from porting.pipeline import convert

    try:
        convert("swin_tiny_patch244_window877_kinetics400_1k", args.tiny_checkpoint, Path(args.scratch))
        report["convert_refused"] = None
    except tf_videoswin.BackendError as e:
        report["convert_refused"] = str(e)


def fit_checks(args: argparse.Namespace, report: dict) -> None:
    """One ``fit`` step with a plain classification loss: finite loss, weights changed, stochastic
    depth and dropout active (two training calls differ), frozen layers untouched."""
    import keras

    from tf_videoswin import VideoSwinConfig, build_model

    # Seeded: with stochastic depth a residual branch may be dropped for every clip of both steps, and a
    # zero bias with no gradient then stays zero under weight decay; unseeded, that fails ~1 run in 20.
    keras.utils.set_random_seed(0)
    config = VideoSwinConfig(
        embed_dim=16,
        depths=(2, 2, 2, 2),
        num_heads=(1, 2, 2, 4),
        window_size=(2, 4, 4),
        num_classes=3,
        drop_path_rate=0.3,
        head_dropout=0.5,
    )
    model = build_model(config)
    model.backbone.patch_embed.trainable = False
    rng = np.random.default_rng(0)
    videos = rng.standard_normal((4, 3, 4, 32, 32)).astype(np.float32)
    labels = np.array([0, 1, 2, 1])
    a = keras.ops.convert_to_numpy(model(videos, training=True)["logits"])
    b = keras.ops.convert_to_numpy(model(videos, training=True)["logits"])
    report["training_is_random"] = _max_abs(a, b)
    before = [np.array(keras.ops.convert_to_numpy(w)) for w in model.weights]
    frozen = {id(w) for w in model.backbone.patch_embed.weights}
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(videos, labels, batch_size=2, epochs=1, verbose=0)
    after = [keras.ops.convert_to_numpy(w) for w in model.weights]
    changed = [
        (id(w) in frozen, _max_abs(x, y)) for w, x, y in zip(model.weights, before, after, strict=True)
    ]
    report["fit"] = {
        "loss": [float(v) for v in history.history["loss"]],
        "accuracy_logged": "accuracy" in history.history,
        "trainable_changed": sum(1 for f, d in changed if not f and d > 0),
        "trainable": sum(1 for f, _ in changed if not f),
        "frozen_max_change": max(d for f, d in changed if f),
    }


def main() -> int:
    blocker = _Unimportable()
    sys.meta_path.insert(0, blocker)
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny-checkpoint", required=True)
    parser.add_argument("--sthv2-checkpoint", required=True)
    parser.add_argument("--golden-dir", required=True)
    parser.add_argument("--tf-weights", required=True)
    parser.add_argument("--tf-outputs", required=True)
    parser.add_argument("--export", default="")
    parser.add_argument("--scratch", required=True)
    args = parser.parse_args()
    import keras

    report: dict = {"backend": keras.backend.backend()}
    from tf_videoswin import build_model

    model = build_model("swin_tiny_patch244_window877_kinetics400_1k")
    report["weights"] = [[w.path, list(w.shape)] for w in model.weights]
    golden_checks(args, report)
    weights_checks(args, report)
    fit_checks(args, report)
    report["imported"] = sorted(m for m in BLOCKED if m in sys.modules)
    sys.meta_path.remove(blocker)
    tensorflow_action_checks(args, report)
    print("REPORT " + json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
