"""The training loop on a small model: gradient accumulation equals a larger batch, graph mode equals
eager mode, the losses are mmaction's, and a multi-label run trains."""

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin.config import VideoSwinConfig
from tf_videoswin.datasets import LabelledVideos
from tf_videoswin.model import Recognizer3D
from tf_videoswin.training.loop import RunOptions, Trainer, classification_loss, top1_hits
from tf_videoswin.training.recipe import recipe_for

from .videos import write_video

# Deterministic (no stochastic depth, no head dropout) and small enough to train in seconds. Heads of
# 32 channels, as in every registry variant and tests/test_recompute.py: the blocks share one
# tf.function, whose relaxed trace for two widths with the same head count has no static width.
CONFIG = VideoSwinConfig(
    embed_dim=32, depths=(2, 2), num_heads=(1, 2), window_size=(2, 4, 4), drop_path_rate=0.0, head_dropout=0.0
)
RECIPE = recipe_for("swin_tiny_patch244_window877_kinetics400_1k")
RECIPE = RECIPE.replace(
    warmup_epochs=0.0, pipeline=RECIPE.pipeline.replace(clip_len=4, short_side=37, crop_size=32)
)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("loop_videos")
    return [
        str(write_video(root / f"{i}.mp4", frames=12, height=40, width=48, seed=i, color=c))
        for i, c in enumerate([(230, 40, 40), (40, 220, 40), (40, 60, 230)])
    ]


def _model(num_classes=3):
    tf.keras.utils.set_random_seed(0)
    return Recognizer3D(CONFIG.replace(num_classes=num_classes))


def _train(data, work, batch_size, update_interval, compile=False, multi_label=False, epochs=1):
    model = _model(data.num_classes)
    options = RunOptions(
        epochs=epochs, batch_size=batch_size, compile=compile, multi_label=multi_label, progress=False
    )
    trainer = Trainer(model, data, RECIPE.replace(update_interval=update_interval), options, work)
    trainer.run()
    return model, trainer


def test_accumulating_two_iterations_equals_one_batch_of_two(videos, tmp_path):
    data = LabelledVideos(tuple(videos[:2]), ((0,), (2,)), ("r", "g", "b"))
    big, t_big = _train(data, tmp_path / "a", batch_size=2, update_interval=1)
    acc, t_acc = _train(data, tmp_path / "b", batch_size=1, update_interval=2, compile=True)
    assert t_big.optimizer.steps == t_acc.optimizer.steps == 1
    assert t_big.state.iteration == 1 and t_acc.state.iteration == 2
    start = _model()
    moved = 0
    for a, b, s in zip(
        big.trainable_variables, acc.trainable_variables, start.trainable_variables, strict=True
    ):
        np.testing.assert_allclose(b.numpy(), a.numpy(), atol=2e-6, rtol=0)
        moved += not np.array_equal(a.numpy(), s.numpy())
    assert moved == len(start.trainable_variables)  # one AdamW step moved every weight
    # Epoch records: the mean loss over the same two videos.
    assert t_acc.state.history[0]["train_loss"] == pytest.approx(
        t_big.state.history[0]["train_loss"], abs=1e-5
    )


def test_multi_label_run_trains(videos, tmp_path):
    data = LabelledVideos(tuple(videos), ((0, 1), (1,), (0, 2)), ("a", "b", "c"))
    _, trainer = _train(data, tmp_path / "m", batch_size=3, update_interval=1, multi_label=True, epochs=3)
    losses = [h["train_loss"] for h in trainer.state.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_new_head_is_initialised_as_upstream():
    from tf_videoswin.training.model import init_head

    model = _model(num_classes=400)
    init_head(model)
    kernel, bias = model.cls_head.fc_cls.kernel.numpy(), model.cls_head.fc_cls.bias.numpy()
    assert kernel.shape == (64, 400) and abs(kernel.std() - 0.01) < 0.0005 and abs(kernel.mean()) < 0.0005
    assert not bias.any()


def test_losses_are_mmactions():
    logits = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])
    labels = tf.constant([0, 1])
    logp = tf.nn.log_softmax(logits).numpy()
    assert float(classification_loss(logits, labels, False)) == pytest.approx(-(logp[0, 0] + logp[1, 1]) / 2)
    # Label smoothing 0.1 over 3 classes: targets 0.9 + 0.1 / 3 on the label, 0.1 / 3 elsewhere.
    soft = np.full((2, 3), 0.1 / 3)
    soft[[0, 1], [0, 1]] += 0.9
    expected = -(soft * logp).sum(axis=1).mean()
    assert float(classification_loss(logits, labels, False, 0.1)) == pytest.approx(expected, rel=1e-6)
    multi = tf.constant([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    x, z = logits.numpy(), multi.numpy()
    bce = (np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))).mean()
    assert float(classification_loss(logits, multi, True)) == pytest.approx(bce, rel=1e-6)
    assert int(top1_hits(logits, labels, False)) == 1
    assert int(top1_hits(logits, multi, True)) == 1  # video 0: class 0 is a label; video 1: class 2 is not
