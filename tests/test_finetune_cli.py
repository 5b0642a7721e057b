"""finetune: a few steps on generated videos lower the held-out loss and beat chance; an interrupted run
resumes exactly where its checkpoint left it; the export works with hub.KerasLayer, predict, evaluate
and from_pretrained like a converted one."""

import contextlib
import io
import json
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin import evaluate, finetune, predict
from tf_videoswin.datasets import from_class_folders
from tf_videoswin.export.metadata import ExportMetadata
from tf_videoswin.training.data import epoch_order
from tf_videoswin.training.loop import LOG_FILE, Trainer
from tf_videoswin.video import load_views

from .conftest import TINY, require
from .videos import write_video

CLASSES = {  # sorted names are the label indices: blue_still 0, green_left 1, red_right 2
    "blue_still": ((40, 60, 230), "still"),
    "green_left": ((40, 220, 40), "left"),
    "red_right": ((230, 40, 40), "right"),
}
TRAIN_PER_CLASS, ITERS_PER_EPOCH, EPOCHS = 6, 6, 2
INTERRUPT_AT_CALL = 11  # iteration 10, in epoch 2; the newest checkpoint is then iteration 8


def _write_split(root, per_class, seed0):
    for name, (color, motion) in CLASSES.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            write_video(
                root / name / f"{i}.mp4", frames=12 + 2 * i, height=48, width=64, color=color, motion=motion,
                seed=seed0 + i, background=tuple(c // 2 for c in color),
            )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("finetune_data")
    train = _write_split(root / "train", TRAIN_PER_CLASS, 0)
    held_out = _write_split(root / "held_out", 2, 100)
    listing = root / "held_out.txt"
    listing.write_text(
        "".join(f"held_out/{name}/{i}.mp4 {label}\n" for label, name in enumerate(CLASSES) for i in range(2)),
        encoding="utf-8",
    )
    return train, held_out, listing


def _argv(train, held_out, checkpoint, out, *extra):
    return [
        str(train), "--variant", TINY, "--checkpoint", str(checkpoint), "--epochs", str(EPOCHS),
        "--output-dir", str(out), "--clip-len", "4", "--crop-size", "32", "--batch-size", "3",
        "--update-interval", "1", "--warmup-epochs", "0", "--val", str(held_out), "--checkpoint-every", "4",
        "--no-progress", "--json", *extra,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def finetuned(dataset, tiny_checkpoint, tmp_path_factory):
    """A run interrupted in its last epoch, then resumed to the end: (export, work dir, argv of the
    resumed run, report).

    The run switches differ between the two halves, as they may (they are not run settings): the
    interrupted half runs an eager step, the resumed half traces its step and recomputes activations
    in it; so the CLI's ``--compile`` and ``--recompute`` are exercised end to end. (An eager step is
    what lets the test interrupt at a chosen iteration; recomputing in it would add a ~30 s first
    step, the eager tape's gradients of the recomputed window loops.)"""
    train, held_out, _ = dataset
    out = tmp_path_factory.mktemp("finetune_out") / "colours"
    argv = _argv(train, held_out, tiny_checkpoint, out)
    real_step, calls = Trainer._micro_step, []

    def step_then_die(self, videos, targets):
        calls.append((self.model.gradient_checkpointing, tf.executing_eagerly()))
        if len(calls) == INTERRUPT_AT_CALL:
            raise KeyboardInterrupt
        return real_step(self, videos, targets)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Trainer, "_micro_step", step_then_die)
        assert finetune.main(argv) == 130
        assert not out.exists()  # nothing exported from an unfinished run
        assert set(calls) == {(False, True)}  # one eager step per iteration
        calls.clear()
        argv = [*argv, "--compile", "--recompute"]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            assert finetune.main(argv) == 0
    # Traced, not called once per iteration: fewer calls than the resumed iterations 8..11.
    assert set(calls) == {(True, False)} and len(calls) < EPOCHS * ITERS_PER_EPOCH - 8
    return out, out.with_name("colours.train"), argv, json.loads(printed.getvalue())


def _report(capsys_text):
    return json.loads(capsys_text[capsys_text.index("{") :])


@pytest.mark.slow  # the fine-tuning run of `finetuned`, ~2 min, is built for these six
def test_interrupted_run_resumes_where_its_checkpoint_left_it(finetuned, dataset, capsys):
    out, work, argv, resumed = finetuned
    assert (
        resumed["resumed_from_iteration"] == 8 and resumed["iterations"] == 12 and not resumed["up_to_date"]
    )
    meta = ExportMetadata.read(out)
    source = meta.source
    history = source["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]  # epoch 0: validation before training
    assert history[-1]["iterations"] == EPOCHS * ITERS_PER_EPOCH == history[-1]["optimizer_steps"]
    assert all(h["videos"] == 3 * TRAIN_PER_CLASS for h in history[1:])  # the last epoch's sums survived
    # The iteration log: every iteration once, each epoch in its seeded order, across the interruption.
    log = [json.loads(line) for line in (work / LOG_FILE).read_text().splitlines()]
    assert [r["iteration"] for r in log] == list(range(EPOCHS * ITERS_PER_EPOCH))
    paths = from_class_folders(dataset[0]).paths
    for epoch in range(EPOCHS):
        seen = [p for r in log if r["epoch"] == epoch for p in r["videos"]]
        assert seen == [paths[i] for i in epoch_order(0, epoch, len(paths))]
    checkpoints = sorted(p.name for p in (work / "checkpoints").iterdir())
    assert checkpoints == ["iter-000000008", "iter-000000012"]  # the newest two
    # Running the finished command again changes nothing.
    assert finetune.main(argv) == 0
    report = _report(capsys.readouterr().out)
    assert report["up_to_date"] and report["resumed_from_iteration"] == 12


@pytest.mark.slow  # uses `finetuned`
def test_training_lowers_the_held_out_loss_and_beats_chance(finetuned, dataset, capsys):
    out = finetuned[0]
    history = ExportMetadata.read(out).source["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    listing = dataset[2]
    argv = [
        str(listing),
        "--model",
        str(out),
        "--out",
        str(out.parent / "held_out.csv"),
        "--json",
        "--no-progress",
    ]
    assert evaluate.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["videos"] == 6 and doc["failed"] == []
    assert doc["top1"] > 1 / 3  # three classes: chance is 1/3


@pytest.mark.slow  # uses `finetuned`
def test_export_has_the_converter_contract(finetuned, tiny_checkpoint):
    out = finetuned[0]
    meta = ExportMetadata.read(out)
    assert meta.source["kind"] == "finetuned" and meta.source["base_variant"] == TINY
    assert meta.variant == "colours" and meta.labels == tuple(CLASSES)
    assert meta.architecture.num_classes == 3 and meta.dataset == "train"
    assert (meta.preprocessing.clip_len, meta.preprocessing.crop_size, meta.preprocessing.short_side) == (
        4,
        32,
        32,
    )
    assert meta.preprocessing.num_clips == 4  # the base variant's test protocol
    from tf_videoswin.files import sha256_file

    assert meta.source["checkpoint_sha256"] == sha256_file(tiny_checkpoint)
    assert {f.path for f in meta.files} == {"classifier", "feature_extractor"}
    assert all(f.parity["reload_max_abs"] <= 1e-5 for f in meta.files)
    assert (out / "classifier" / "assets" / "labels.txt").read_text().split() == list(CLASSES)
    card = (out / "README.md").read_text()
    assert f"Fine-tuned with `tf_videoswin.finetune` from `{TINY}`" in card


@pytest.mark.slow  # uses `finetuned`
def test_export_loads_with_hub_keraslayer_and_predict(finetuned, dataset, capsys):
    hub = require("tensorflow_hub", "hub")
    tf_keras = require("tf_keras", "hub")

    out = finetuned[0]
    clip = tf.constant(np.random.default_rng(0).standard_normal((2, 3, 4, 32, 32)).astype(np.float32))
    signature = tf.saved_model.load(str(out / "classifier")).signatures["serving_default"]
    model = tf_keras.Sequential([hub.KerasLayer(str(out / "classifier"))])
    np.testing.assert_allclose(model(clip).numpy(), signature(video=clip)["logits"].numpy(), atol=1e-5)

    # predict's top 2 of 3 (a top 3 would name every class whatever the model computed): the softmax over
    # the export's official views, averaged, recomputed here through hub.KerasLayer.
    video = sorted((dataset[1] / "red_right").iterdir())[0]
    assert predict.main([str(video), "--model", str(out / "classifier"), "--json", "--top-k", "2"]) == 0
    top = json.loads(capsys.readouterr().out)["results"][0]["top_k"]
    meta = ExportMetadata.read(out)
    views = load_views(video, meta.preprocessing, "official")
    probs = tf.nn.softmax(model(tf.constant(views)).numpy().astype(np.float64), axis=-1).numpy().mean(axis=0)
    expected = np.argsort(-probs)[:2]
    assert meta.labels == tuple(CLASSES)
    assert [t["label"] for t in top] == [meta.labels[i] for i in expected]
    np.testing.assert_allclose([t["probability"] for t in top], probs[expected], atol=1e-5)


@pytest.mark.slow  # uses `finetuned`
def test_other_settings_do_not_resume_silently(finetuned, capsys):
    argv = finetuned[2]
    changed = [*argv, "--seed", "1"]
    assert finetune.main(changed) == 2
    assert "holds a run with other settings (seed)" in capsys.readouterr().err


@pytest.mark.slow  # uses `finetuned`
def test_finetune_from_python_with_keywords(finetuned, dataset, tiny_checkpoint, capsys):
    """The library call behind the app, with keyword arguments: the finished run is found up to date
    (the same run id as the command line's), a result object comes back, nothing is printed; other
    settings are an error, not an exit code."""
    from tf_videoswin.errors import TrainingError
    from tf_videoswin.training.finetune import FinetuneConfig, FinetuneResult
    from tf_videoswin.training.finetune import finetune as run_finetune

    out, _, _, resumed = finetuned
    train, held_out, _ = dataset
    settings = dict(
        data=str(train), variant=TINY, checkpoint=tiny_checkpoint, epochs=EPOCHS, output_dir=out, clip_len=4,
        crop_size=32, batch_size=3, update_interval=1, warmup_epochs=0, val=held_out, checkpoint_every=4,
        progress=False,
    )  # fmt: skip
    capsys.readouterr()
    result = run_finetune(**settings)
    assert isinstance(result, FinetuneResult) and result.up_to_date
    assert result.to_dict() == {**resumed, "up_to_date": True, "resumed_from_iteration": 12}
    assert capsys.readouterr().out == ""
    with pytest.raises(TrainingError, match=r"other settings \(seed\)"):
        run_finetune(FinetuneConfig(**settings), seed=1)
    with pytest.raises(ValueError, match="precision"):
        FinetuneConfig(**settings, precision="float16")


def test_bad_inputs_exit_2(dataset, tiny_checkpoint, tmp_path, capsys, monkeypatch):
    train, held_out, _ = dataset
    one_class = tmp_path / "one"
    (one_class / "only").mkdir(parents=True)
    assert finetune.main(_argv(one_class, held_out, tiny_checkpoint, tmp_path / "a")) == 2
    assert "expected one sub-folder of videos per class, found 1" in capsys.readouterr().err
    not_an_export = tmp_path / "mine"
    not_an_export.mkdir()
    (not_an_export / "notes.txt").write_text("keep me")
    assert finetune.main(_argv(train, held_out, tiny_checkpoint, not_an_export)) == 2
    assert "exists and is not an export" in capsys.readouterr().err
    assert (not_an_export / "notes.txt").read_text() == "keep me"
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    assert finetune.main(_argv(train, held_out, tiny_checkpoint, tmp_path / "b")) == 2
    assert "pip install 'tf-videoswin[convert]'" in capsys.readouterr().err


@pytest.mark.slow  # ~3 min on a CPU without bf16 arithmetic (emulated)
def test_bfloat16_training_exports_a_float32_model(dataset, tiny_checkpoint, tmp_path, capsys):
    """--precision bfloat16 trains (finite, recorded in the run) and the export computes in float32
    like any other: training precision is a run switch, not a property of the weights."""
    train, held_out, _ = dataset
    out = tmp_path / "bf16"
    argv = _argv(train, held_out, tiny_checkpoint, out, "--precision", "bfloat16")
    argv[argv.index("--epochs") + 1] = "1"
    assert finetune.main(argv) == 0
    report = _report(capsys.readouterr().out)
    assert np.isfinite(report["history"][-1]["train_loss"])  # [0] is the validation before training
    run = json.loads((out.with_name("bf16.train") / "run.json").read_text())
    assert run["precision"] == "bfloat16"
    meta = ExportMetadata.read(out)
    assert meta.precision == "float32"
    assert all(f.parity["reload_max_abs"] <= 1e-5 for f in meta.files)
    # Resuming the finished run in float32 is another run: refused, not silently mixed.
    assert finetune.main([*argv[:-2], "--precision", "float32"]) == 2
    assert "holds a run with other settings (precision)" in capsys.readouterr().err


def test_float16_training_is_refused_as_a_bad_flag(dataset, tiny_checkpoint, tmp_path, capsys):
    train, held_out, _ = dataset
    with pytest.raises(SystemExit) as e:
        finetune.main(_argv(train, held_out, tiny_checkpoint, tmp_path / "f16", "--precision", "float16"))
    assert e.value.code == 2
    assert "invalid choice: 'float16'" in capsys.readouterr().err
