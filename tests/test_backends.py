"""The model on every Keras backend: JAX and PyTorch give the official goldens' numbers without TensorFlow.

``KERAS_BACKEND`` is read when Keras is imported, so each backend runs ``tests/backend_worker.py`` in a
process of its own, with TensorFlow made unimportable; this process (TensorFlow) writes the weights
file and outputs they are compared with, and asserts on what the worker measured.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import GOLDEN_DIR, ROOT, STHV2, TINY

#: The official float32 and float64 outputs differ by <= 4e-6; a correct port lands ~1e-5.
GOLDEN_TOLERANCE = 1e-4
#: The same weights on two backends: float32 round-off of different kernels and summation orders.
CROSS_BACKEND_TOLERANCE = 1e-4
#: channels-last and channels-first run the same arithmetic on transposed data.
LAYOUT_TOLERANCE = 1e-5
BACKEND_MODULES = {"jax": "jax", "torch": "torch"}


@pytest.fixture(scope="module")
def tf_outputs(tiny_export, golden_outputs, tmp_path_factory):
    """The TensorFlow model of the Swin-T export on the golden input, and the export's weights file."""
    import tf_videoswin
    from tf_videoswin.export.metadata import ExportMetadata, find_metadata_file
    from tf_videoswin.export.preset import save_preset

    model = tf_videoswin.from_pretrained(tiny_export)
    video = golden_outputs(TINY)["input"]
    out = {k: v.numpy() for k, v in model(video).items()}
    folder = tmp_path_factory.mktemp("tf_outputs")
    path = folder / "tiny.npz"
    np.savez(path, input=video, **out)
    save_preset(model, folder / "preset", variant=TINY)  # a keras-hub preset written on TensorFlow
    meta = ExportMetadata.read(tiny_export)
    weights = next(f for f in meta.files if f.format == "weights")
    return path, find_metadata_file(tiny_export).parent / weights.path


@pytest.fixture(scope="module", params=sorted(BACKEND_MODULES))
def report(request, tf_outputs, tiny_checkpoint, sthv2_checkpoint, tiny_export, tmp_path_factory):
    backend = request.param
    if importlib.util.find_spec(BACKEND_MODULES[backend]) is None:
        pytest.fail(f"{backend} is not installed: `make setup` installs the [jax] and [torch] extras")
    outputs, weights = tf_outputs
    env = {**os.environ, "KERAS_BACKEND": backend}
    cmd = [
        sys.executable,
        "-m",
        "tests.backend_worker",
        "--tiny-checkpoint",
        str(tiny_checkpoint),
        "--sthv2-checkpoint",
        str(sthv2_checkpoint),
        "--golden-dir",
        str(GOLDEN_DIR / "data"),
        "--tf-weights",
        str(weights),
        "--tf-outputs",
        str(outputs),
        "--export",
        str(tiny_export),
        "--scratch",
        str(tmp_path_factory.mktemp(f"scratch_{backend}")),
    ]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    line = next(x for x in run.stdout.splitlines() if x.startswith("REPORT "))
    return json.loads(line.removeprefix("REPORT "))


def test_runs_on_the_requested_backend_without_tensorflow(report):
    assert report["backend"] in BACKEND_MODULES
    assert report["imported"] == [], "TensorFlow was imported"
    for name in (TINY, STHV2):  # native tensors of the backend
        assert report[f"native/{name}"].split(".")[0] in ("jax", "jaxlib", "torch")


@pytest.mark.parametrize("name", [TINY, STHV2])
def test_from_pretrained_matches_official_goldens(report, name):
    for key, diff in report[f"golden/{name}"].items():
        assert diff <= GOLDEN_TOLERANCE, f"{report['backend']} {name} {key}: {diff:.3e}"


def test_jax_inference_runs_without_ynn_fusions(report):
    """The jitted forward on the CPU compiles without YNNPACK fusions (~1.45x slower with them)."""
    if report["backend"] != "jax":
        pytest.skip("a JAX compile option")
    assert report["jax_ynn_fusions"] == 0


def test_one_model_serves_other_clip_sizes(report):
    from tf_videoswin import get_variant

    for name in (TINY, STHV2):
        arch = get_variant(name).arch
        features, logits = report[f"other_shape/{name}"]
        assert features == [1, arch.num_features, 5, 2, 2] and logits == [1, arch.num_classes]


def test_same_variables_in_the_same_order_as_tensorflow(report):
    from tf_videoswin import build_model

    model = build_model(TINY)
    assert report["weights"] == [[w.path, list(w.shape)] for w in model.weights]


def test_tensorflow_weights_file_gives_the_same_numbers(report):
    for key, diff in report["tf_weights"].items():
        assert diff <= CROSS_BACKEND_TOLERANCE, f"{key}: {diff:.3e}"
    for key, diff in report["export_folder"].items():
        assert diff <= CROSS_BACKEND_TOLERANCE, f"export folder {key}: {diff:.3e}"
    for key, diff in report["keras_file"].items():  # the .keras file written on TensorFlow
        assert diff <= CROSS_BACKEND_TOLERANCE, f".keras {key}: {diff:.3e}"
    for key, diff in report["preset"].items():  # the keras-hub preset written on TensorFlow
        assert diff <= CROSS_BACKEND_TOLERANCE, f"preset {key}: {diff:.3e}"


def test_channels_last_equals_channels_first(report):
    for key, diff in report["channels_last"].items():
        assert diff <= LAYOUT_TOLERANCE, f"{key}: {diff:.3e}"
    assert report["channels_first_clip_refused"]


def test_fit_trains_the_logits_with_a_plain_loss(report):
    fit = report["fit"]
    assert all(np.isfinite(fit["loss"])) and fit["accuracy_logged"]
    assert fit["trainable_changed"] == fit["trainable"] > 0  # every trainable weight moved
    assert fit["frozen_max_change"] == 0.0  # the frozen patch embedding did not
    assert report["training_is_random"] > 0  # stochastic depth and dropout are active


def test_tensorflow_only_actions_are_refused_by_name(report):
    assert "KERAS_BACKEND=tensorflow" in report["savedmodel_refused"]
    assert "KERAS_BACKEND=tensorflow" in report["convert_refused"]
    assert "do not fit" in report["other_variant_refused"]


def _python(code: str, backend: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter with ``KERAS_BACKEND=backend`` (Keras reads it once, at import)."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


#: Builds a model and prints the named error it raises, if any.
BUILD = (
    "import tf_videoswin\n"
    "try:\n"
    "    tf_videoswin.build_model('swin_tiny_patch244_window877_kinetics400_1k')\n"
    "except tf_videoswin.VideoSwinError as e:\n"
    "    print('NAMED', type(e).__name__, e)\n"
)


def test_missing_backend_library_is_named():
    """KERAS_BACKEND=jax without JAX: MissingDependencyError naming the extra, not Keras' traceback."""
    block_jax = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'jax': raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    run = _python(block_jax + BUILD, "jax")
    assert "NAMED MissingDependencyError" in run.stdout, run.stderr[-2000:]
    assert "tf-videoswin[jax]" in run.stdout


def test_unknown_backend_is_refused():
    run = _python(BUILD, "numpy")
    assert "NAMED BackendError" in run.stdout and "tensorflow, jax, torch" in run.stdout, run.stderr[-2000:]


def test_apps_run_keras_on_tensorflow_whatever_the_shell_selects():
    code = (
        "from tf_videoswin.console import configure_logging\n"
        "configure_logging(False)\n"
        "import keras; print('BACKEND', keras.backend.backend())\n"
    )
    run = _python(code, "jax")
    assert "BACKEND tensorflow" in run.stdout, run.stderr[-2000:]
