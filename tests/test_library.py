"""The Python API: from_pretrained, Keras-native files, config round trips, trainable flags, bf16 intake."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch

import tf_videoswin
from porting import convert_cli
from tf_videoswin import (
    CheckpointError,
    CheckpointMismatchError,
    Recognizer3D,
    UnknownVariantError,
    VideoSwinConfig,
    build_model,
    from_pretrained,
    get_variant,
)
from tf_videoswin.export import METADATA_FILE, ExportMetadata
from tf_videoswin.export.savedmodel import build_export_object

from .conftest import ROOT, STHV2, TINY

GOLDEN_TOLERANCE = 1e-4
#: A small architecture (other depth, other head) so Keras-file round trips stay fast.
SMALL = VideoSwinConfig(embed_dim=32, depths=(1, 1, 2, 1), num_heads=(1, 2, 4, 8), num_classes=7)


def _clips(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _max_abs(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max(float(np.abs(np.asarray(a[k]) - np.asarray(b[k])).max()) for k in a)


@pytest.fixture(scope="module")
def tiny_model(tiny_checkpoint):
    return from_pretrained(TINY, checkpoint=tiny_checkpoint)


# from_pretrained is one path for every variant; Swin-B 16x7x7's forward against its golden is in the
# default run through tests/test_parity.py, here in the slow tier.
@pytest.mark.parametrize("name", [TINY, pytest.param(STHV2, marks=pytest.mark.slow)])
def test_from_pretrained_equals_official_golden(name, request, golden_outputs):
    checkpoint = request.getfixturevalue("tiny_checkpoint" if name == TINY else "sthv2_checkpoint")
    model = from_pretrained(name, checkpoint=checkpoint)
    golden = golden_outputs(name)
    out = model(tf.constant(golden["input"]), training=False)
    for key in ("features", "pooled", "logits"):
        assert np.abs(out[key].numpy() - golden[key]).max() <= GOLDEN_TOLERANCE, key


def test_from_pretrained_verify_runs_the_reference(tiny_checkpoint, caplog):
    caplog.set_level("INFO", logger="tf_videoswin.pretrained")
    from_pretrained(TINY, checkpoint=tiny_checkpoint, verify=True)
    assert "parity with reference_torch" in caplog.text and "logits" in caplog.text


def test_from_pretrained_bad_inputs(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        from_pretrained(TINY, checkpoint=tmp_path / "missing.pth")
    with pytest.raises(UnknownVariantError, match=f"did you mean '{TINY}'"):
        from_pretrained("swin_tiny_patch244_window877_kinetics400", checkpoint=tiny_checkpoint)
    with pytest.raises(CheckpointMismatchError, match=f"checkpoint is not {STHV2}: it looks like {TINY}"):
        from_pretrained(STHV2, checkpoint=tiny_checkpoint)
    with pytest.raises(tf_videoswin.ExportFormatError, match="no such export folder"):
        from_pretrained(tmp_path / "no_export")
    # Every named error is a VideoSwinError, so one except clause catches them all.
    assert issubclass(CheckpointMismatchError, tf_videoswin.VideoSwinError)


def test_new_head_and_no_head_keep_the_backbone(tiny_model, tiny_checkpoint):
    video = tf.constant(_clips((2, 3, 4, 32, 32))[0])
    base = tiny_model(video)
    five = from_pretrained(TINY, checkpoint=tiny_checkpoint, num_classes=5)
    out = five(video)
    assert out["logits"].shape == (2, 5)
    np.testing.assert_array_equal(out["pooled"].numpy(), base["pooled"].numpy())
    headless = from_pretrained(TINY, checkpoint=tiny_checkpoint, include_top=False)
    out = headless(video)
    assert set(out) == {"features", "pooled"} and not headless.include_top
    np.testing.assert_array_equal(out["features"].numpy(), base["features"].numpy())


def test_half_precision_checkpoints_convert(tmp_path, tiny_checkpoint, tiny_model, capsys):
    state = torch.load(tiny_checkpoint, weights_only=True)
    for dtype in (torch.bfloat16, torch.float16):
        half = {
            "meta": state["meta"],
            "state_dict": {
                k: v.to(dtype) if v.is_floating_point() else v for k, v in state["state_dict"].items()
            },
        }
        path = tmp_path / f"{dtype}.pth".replace("torch.", "")
        torch.save(half, path)
        if dtype == torch.bfloat16:  # the CLI path (its parity check compares with the same upcast weights)
            argv = ["--variant", TINY, "--checkpoint", str(path), "--no-export"]
            assert convert_cli.main(argv) == 0, capsys.readouterr().err
        model = from_pretrained(TINY, checkpoint=path)
        # The half-precision weights are the float32 ones rounded: outputs stay close, not equal.
        video = tf.constant(_clips((1, 3, 4, 32, 32))[0])
        diff = _max_abs(model(video), tiny_model(video))
        assert 0 < diff < 0.5


def test_keras_file_round_trip_on_two_shapes(tmp_path):
    model = Recognizer3D(SMALL, name="small_swin")
    path = tmp_path / "small.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects: the layers are registered
    assert loaded.config == SMALL and loaded.name == "small_swin"
    for video in _clips((1, 3, 8, 64, 64), (2, 3, 5, 40, 52)):
        assert _max_abs(model(video, training=False), loaded(video, training=False)) <= 1e-6


def test_weights_file_loads_into_build_model(tmp_path, tiny_model):
    path = tmp_path / "tiny.weights.h5"
    tiny_model.save_weights(path)
    fresh = build_model(TINY)
    fresh.load_weights(path)
    for video in _clips((1, 3, 4, 32, 32), (2, 3, 6, 40, 56)):
        assert _max_abs(tiny_model(video, training=False), fresh(video, training=False)) <= 1e-6


def test_weights_file_check_needs_every_weight_from_the_file(tmp_path, monkeypatch):
    """The .weights.h5 file is checked on the model the .keras file gave (one model traced, not two):
    its weights are zeroed first, so a file that loads nothing cannot pass on the .keras file's weights."""
    from tf_videoswin.errors import ExportCheckError
    from tf_videoswin.export.keras_files import save_keras_files

    model = Recognizer3D(SMALL, name="small_swin")
    clips = _clips((1, 3, 4, 32, 32))
    written = save_keras_files(model, tmp_path, ["keras", "weights"], clips)
    assert [f.format for f in written] == ["keras", "weights"]
    assert all(f.parity["reload_max_abs"] <= 1e-6 for f in written)
    monkeypatch.setattr(Recognizer3D, "load_weights", lambda self, path: None)
    (tmp_path / "again").mkdir()
    with pytest.raises(ExportCheckError, match=r"reloaded small_swin.weights.h5 differs"):
        save_keras_files(model, tmp_path / "again", ["keras", "weights"], clips)


def test_every_layer_config_round_trips():
    model = Recognizer3D(SMALL)
    clone = Recognizer3D.from_config(model.get_config())
    assert clone.config == SMALL
    seen = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if not type(layer).__module__.startswith("tf_videoswin"):
            continue
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config, type(layer).__name__
        seen += 1
    assert seen > 20


def test_summary_and_trainable_flags(tiny_model):
    lines = []
    tiny_model.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert "backbone (SwinTransformer3D)" in text and "cls_head (I3DHead)" in text
    assert f"{get_variant(TINY).num_parameters:,}" in text

    model = Recognizer3D(SMALL)
    model.backbone.trainable = False
    assert {id(v) for v in model.trainable_weights} == {id(v) for v in model.cls_head.weights}
    before = [v.numpy().copy() for v in model.weights]
    video = tf.constant(_clips((2, 3, 4, 32, 32))[0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(video, training=True)["logits"] ** 2)
    grads = tape.gradient(loss, model.trainable_weights)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, model.trainable_weights, strict=True))
    changed = {id(v) for v, b in zip(model.weights, before, strict=True) if not np.array_equal(v.numpy(), b)}
    assert changed == {id(v) for v in model.cls_head.weights}


def test_export_keras_files_are_listed_and_every_source_loads(tiny_export, tiny_model):
    import hashlib

    export = tiny_export
    meta = ExportMetadata.read(export)
    files = {f.format: f for f in meta.files}
    assert set(files) == {"savedmodel", "keras", "weights"}
    for fmt, name in (("keras", f"{TINY}.keras"), ("weights", f"{TINY}.weights.h5")):
        assert files[fmt].path == name
        assert files[fmt].sha256 == hashlib.sha256((export / name).read_bytes()).hexdigest()
        assert files[fmt].parity["reload_max_abs"] <= 1e-6
    assert json.loads((export / METADATA_FILE).read_text())["schema_version"] == 2
    video = tf.constant(_clips((1, 3, 6, 48, 40))[0])
    expected = tiny_model(video, training=False)
    for source in (export, export / f"{TINY}.keras", export / "classifier"):
        assert _max_abs(from_pretrained(source)(video, training=False), expected) <= 1e-6
    # A feature extractor SavedModel holds the backbone only: the model has no head.
    backbone = from_pretrained(export / "feature_extractor")
    assert not backbone.include_top
    assert _max_abs(backbone(video, training=False), {k: expected[k] for k in ("features", "pooled")}) <= 1e-6


def test_without_keras_files_the_weights_come_from_the_savedmodel(tiny_export, tiny_model, tmp_path):
    import shutil

    export = tmp_path / TINY
    shutil.copytree(tiny_export, export, ignore=shutil.ignore_patterns("*.keras", "*.h5"))
    video = tf.constant(_clips((1, 3, 6, 48, 40))[0])
    loaded = tf_videoswin.load_export_model(export)
    assert _max_abs(loaded(video, training=False), tiny_model(video, training=False)) <= 1e-6


def test_plan_export_skips_adds_formats_or_refuses(tiny_export, tmp_path):
    from porting.export_plan import ExportPlan, plan_export

    cfg = get_variant(TINY)
    meta = ExportMetadata.read(tiny_export)
    sha = meta.source["checkpoint_sha256"]
    every = ("float32", "float16", "int8")  # the TFLite precisions asked for by default
    weights = ExportPlan(formats=("savedmodel", "weights"))
    plan = plan_export(None, cfg, sha, ExportPlan())
    assert (plan.action, plan.formats, plan.overwrite, plan.tflite_precisions) == (
        "write",
        ("savedmodel",),
        False,
        every,
    )
    assert plan_export(meta, cfg, sha, weights, tiny_export).action == "skip"
    # A listed file that is gone counts as missing: the export is rewritten with every format.
    import shutil

    copy = tmp_path / TINY
    shutil.copytree(tiny_export, copy, ignore=shutil.ignore_patterns("*.h5"))
    plan = plan_export(meta, cfg, sha, weights, copy)
    assert (plan.action, plan.formats, plan.overwrite, plan.tflite_precisions) == (
        "write",
        ("savedmodel", "keras", "weights"),
        True,
        every,
    )
    with pytest.raises(FileExistsError, match="another checkpoint or precision; pass --overwrite"):
        plan_export(meta, cfg, "0" * 64, ExportPlan(), tiny_export)
    plan = plan_export(meta, cfg, "0" * 64, ExportPlan(overwrite=True), tiny_export)
    assert (plan.action, plan.formats, plan.overwrite, plan.tflite_precisions) == (
        "write",
        ("savedmodel",),
        True,
        every,
    )


@pytest.mark.parametrize("order", ["tf_videoswin, keras", "keras, tf_videoswin"])
def test_keras_files_load_without_custom_objects_after_import(order, tmp_path):
    path = tmp_path / "m.keras"
    Recognizer3D(SMALL, name="m").save(path)
    load = f"m = keras.saving.load_model({str(path)!r})"
    code = f"import {order}\n{load}\nprint(type(m).__name__, m.config.depths)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Recognizer3D (1, 1, 2, 1)" in proc.stdout


def test_missing_extra_names_the_install_command(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import tf_videoswin\n"
        "try:\n"
        "    import reference_torch\n"
        "except tf_videoswin.MissingDependencyError as e:\n"
        "    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "pip install 'tf-videoswin[convert]'" in proc.stdout, proc.stderr[-2000:]


def test_export_functions_do_not_keep_a_model_alive():
    """The traced export functions close over their model; kept outside it, they kept every model
    ever exported (and its weights) alive for the life of the process."""
    model = Recognizer3D(SMALL, name="small_swin")
    obj, serving = build_export_object(model, "classifier")
    assert build_export_object(model, "feature_extractor")[0].__call__ is not obj.__call__
    alive = weakref.ref(model)
    del model, obj, serving
    gc.collect()
    assert alive() is None


# ---------------------------------------------------------------------------------------- oneDNN default
def _fresh_python(code: str, onednn_env: str | None = None) -> subprocess.CompletedProcess:
    """``code`` in a new interpreter, with ``TF_ENABLE_ONEDNN_OPTS`` unset or set to ``onednn_env``."""
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if onednn_env is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = onednn_env
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)


def test_importing_the_package_turns_on_onednn_unless_the_user_chose():
    """TensorFlow leaves oneDNN off on AVX2-only CPUs, where this model runs ~1.5x slower without it."""
    code = (
        "import os, tf_videoswin; from tf_videoswin.cpu import onednn_enabled; "
        "import tensorflow; print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), onednn_enabled())"
    )
    assert _fresh_python(code).stdout.splitlines()[-1] == "1 True"
    assert _fresh_python(code, "0").stdout.splitlines()[-1] == "0 False"  # the user's choice stands


def test_default_to_onednn_leaves_an_imported_tensorflow_alone():
    from tf_videoswin.cpu import ONEDNN_ENV, default_to_onednn

    environ: dict = {}
    assert not default_to_onednn(environ, {"tensorflow"}) and environ == {}
    assert default_to_onednn(environ, set()) and environ == {ONEDNN_ENV: "1"}
    assert not default_to_onednn({ONEDNN_ENV: "0"}, set())


def test_a_tensorflow_imported_first_gets_a_hint_where_onednn_is_off():
    out = _fresh_python(
        "import tensorflow, tf_videoswin.model; from tf_videoswin.cpu import onednn_enabled; "
        "print(onednn_enabled())"
    )
    enabled = out.stdout.splitlines()[-1]
    # TensorFlow's own default: on for CPUs with AVX512_VNNI/AVX512_BF16/AMX, off elsewhere.
    hinted = "set TF_ENABLE_ONEDNN_OPTS=1 before importing TensorFlow" in out.stderr
    assert enabled in ("True", "False") and hinted == (enabled == "False"), out.stderr[-2000:]
