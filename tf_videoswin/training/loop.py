"""The fine-tuning loop: upstream recipe, gradient accumulation, checkpoints, resume, validation.

One loader iteration = one micro-batch forward/backward whose gradients (of ``loss / update_interval``)
are added to the accumulators; every ``update_interval``-th iteration (counted over the whole run, as
mmcv counts ``runner.iter``) the accumulated gradients are applied with the learning rate of
:func:`~.schedule.learning_rate` for that iteration. A checkpoint is written after every epoch (and
every ``checkpoint_every`` iterations if set); :meth:`Trainer.restore` continues from one exactly:
weights, AdamW moments and step counts, accumulators, the epoch's running loss, and the data order
and augmentations (functions of the seed, epoch and position). Not restored: TensorFlow's random
state for stochastic depth and head dropout (drawn inside the model), so a resumed run is not bit
for bit the uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from ..config import Preprocessing
from ..datasets import LabelledVideos
from ..errors import VideoError
from ..files import atomic_write_text
from ..model.recognizer import Recognizer3D
from ..video.decode import decode_video
from ..video.views import make_views
from .checkpoint import TrainingState, checkpoint_dirs, load_checkpoint, save_checkpoint
from .data import iterations_per_epoch, train_batches
from .data import targets as targets_of
from .optimizer import GroupedAdamW
from .param_groups import group_variables
from .recipe import Recipe
from .schedule import learning_rate

logger = logging.getLogger(__name__)

LOG_FILE = "log.jsonl"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run the recipe (what is not part of the upstream config)."""

    epochs: int
    batch_size: int
    seed: int = 0
    multi_label: bool = False
    param_groups: str = "mmcv"
    recompute: bool = False
    compile: bool = False
    workers: int = 2
    checkpoint_every: int = 0  # iterations; 0: only at the end of each epoch
    keep_checkpoints: int = 2
    val_every: int = 1  # epochs
    progress: bool = True


def classification_loss(
    logits: tf.Tensor, targets: tf.Tensor, multi_label: bool, label_smoothing: float = 0.0
) -> tf.Tensor:
    """Mean loss of a batch, in float32 whatever the logits' dtype.

    Single-label: cross-entropy with soft targets ``one_hot * (1 - s) + s / K`` (mmaction's
    ``LabelSmoothing`` blending, ``s = label_smoothing``). Multi-label: sigmoid binary cross-entropy
    averaged over classes and videos (mmaction's ``BCELossWithLogits``).
    """
    logits = tf.cast(logits, tf.float32)
    if multi_label:
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(targets, tf.float32), logits))
    num_classes = tf.shape(logits)[-1]
    soft = tf.one_hot(targets, num_classes) * (1.0 - label_smoothing) + label_smoothing / tf.cast(
        num_classes, tf.float32
    )
    return tf.reduce_mean(-tf.reduce_sum(soft * tf.nn.log_softmax(logits), axis=-1))


def top1_hits(logits: tf.Tensor, targets: tf.Tensor, multi_label: bool) -> tf.Tensor:
    """Videos whose top-1 class is (one of) their label(s)."""
    pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
    if multi_label:
        return tf.reduce_sum(tf.cast(tf.gather(targets, pred, batch_dims=1) > 0, tf.int32))
    return tf.reduce_sum(tf.cast(tf.equal(pred, tf.cast(targets, tf.int32)), tf.int32))


class Trainer:
    """Fine-tunes a :class:`Recognizer3D` on labelled videos with an upstream recipe.

    Args:
        model: the model to train (with a head of ``data.num_classes``).
        data: training videos.
        recipe: the recipe (lr, weight decay, schedule, accumulation, pipeline, label smoothing).
        options: epochs, batch size, seed and run switches.
        work_dir: where checkpoints and the iteration log go.
        val: optional validation videos (upstream's val pipeline: one centre clip).
    """

    def __init__(
        self,
        model: Recognizer3D,
        data: LabelledVideos,
        recipe: Recipe,
        options: RunOptions,
        work_dir: Path,
        val: LabelledVideos | None = None,
    ) -> None:
        if model.config.num_classes != data.num_classes:
            raise ValueError(f"model has {model.config.num_classes} classes, data {data.num_classes}")
        self.model, self.data, self.recipe, self.options = model, data, recipe, options
        self.work_dir, self.val = Path(work_dir), val
        model.set_gradient_checkpointing(options.recompute)
        self.groups = group_variables(model, recipe.custom_keys, options.param_groups)
        self.optimizer = GroupedAdamW(self.groups, recipe.weight_decay, recipe.betas, recipe.epsilon)
        self.iters_per_epoch = iterations_per_epoch(len(data), options.batch_size)
        self.state = TrainingState()
        self.resumed_from: int | None = None
        step = self._micro_step
        self._step = tf.function(step, reduce_retracing=True, autograph=False) if options.compile else step

    # ------------------------------------------------------------------ one iteration
    def _micro_step(self, videos: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            logits = self.model(videos, training=True)["logits"]
            loss = classification_loss(logits, targets, self.options.multi_label, self.recipe.label_smoothing)
            scaled = loss / float(self.recipe.update_interval)
        self.optimizer.accumulate(tape.gradient(scaled, self.optimizer.variables))
        return loss, top1_hits(logits, targets, self.options.multi_label)

    def learning_rate(self, iteration: int) -> float:
        """The base rate (before the groups' multipliers) at loader iteration ``iteration``."""
        r = self.recipe
        return learning_rate(
            r.lr,
            iteration,
            self.iters_per_epoch,
            self.options.epochs,
            r.warmup_epochs,
            r.warmup_ratio,
            r.min_lr,
        )

    # ------------------------------------------------------------------ checkpoints
    def restore(self) -> bool:
        """Continue from the newest checkpoint in the work dir, if any; returns whether one was found."""
        found = checkpoint_dirs(self.work_dir)
        if not found:
            return False
        self.state = load_checkpoint(found[-1], self.model, self.optimizer)
        self.resumed_from = self.state.iteration
        _truncate_log(self.work_dir / LOG_FILE, self.state.iteration)
        logger.info(
            "resumed from %s (epoch %d, iteration %d)", found[-1], self.state.epoch, self.state.iteration
        )
        return True

    def save(self) -> Path:
        return save_checkpoint(
            self.work_dir, self.model, self.optimizer, self.state, self.options.keep_checkpoints
        )

    # ------------------------------------------------------------------ the run
    def run(self) -> TrainingState:
        """Train until ``options.epochs`` are done (from wherever :meth:`restore` left the state)."""
        from tqdm import tqdm

        opts, state = self.options, self.state
        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.val is not None and state.iteration == 0 and not state.history:
            # The starting point, so the history shows what training changed.
            state.history.append({"epoch": 0, **self.validate()})
        while state.epoch < opts.epochs:
            epoch_start = state.epoch * self.iters_per_epoch
            start = state.iteration - epoch_start
            started = time.perf_counter()
            bar = tqdm(
                total=self.iters_per_epoch,
                initial=start,
                desc=f"epoch {state.epoch + 1}/{opts.epochs}",
                unit="it",
                disable=not opts.progress,
                file=sys.stderr,
            )
            batches = train_batches(
                self.data,
                self.recipe.pipeline,
                seed=opts.seed,
                epoch=state.epoch,
                batch_size=opts.batch_size,
                multi_label=opts.multi_label,
                start_iteration=start,
                workers=opts.workers,
            )
            with bar, open(self.work_dir / LOG_FILE, "a", encoding="utf-8") as log:
                for batch in batches:
                    loss = self._iteration(batch, log)
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}" if loss is not None else "-")
                    in_epoch = state.iteration - epoch_start
                    every = opts.checkpoint_every
                    # (the epoch's end saves anyway)
                    if every and state.iteration % every == 0 and in_epoch < self.iters_per_epoch:
                        self.save()
            self._finish_epoch(time.perf_counter() - started)
            self.save()
        return state

    def _iteration(self, batch, log) -> float | None:
        state, i = self.state, self.state.iteration
        state.skipped += batch.failed
        loss = None
        if len(batch.videos):
            loss_t, hits = self._step(tf.constant(batch.videos), tf.constant(batch.targets))
            loss = float(loss_t)
            state.loss_sum += loss * len(batch.paths)
            state.hits += int(hits)
            state.seen += len(batch.paths)
        lr = None
        if (i + 1) % self.recipe.update_interval == 0:
            lr = self.learning_rate(i)
            self.optimizer.step(lr)
        state.iteration += 1
        record = {"iteration": i, "epoch": state.epoch, "loss": loss, "lr": lr, "videos": batch.paths}
        log.write(json.dumps(record) + "\n")
        log.flush()
        return loss

    def validate(self) -> dict[str, float | None]:
        """``val_top1`` and ``val_loss`` (inference mode) on the validation videos."""
        return validate(self.model, self.val, self.recipe, self.options.multi_label)

    def _finish_epoch(self, seconds: float) -> None:
        state = self.state
        record = {
            "epoch": state.epoch + 1,
            "train_loss": state.loss_sum / state.seen if state.seen else None,
            "train_top1": state.hits / state.seen if state.seen else None,
            "videos": state.seen,
            "iterations": state.iteration,
            "optimizer_steps": self.optimizer.steps,
            "seconds_this_process": round(seconds, 3),
        }
        last = state.epoch + 1 == self.options.epochs
        if self.val is not None and ((state.epoch + 1) % self.options.val_every == 0 or last):
            record.update(self.validate())
        logger.info("epoch %d: %s", state.epoch + 1, record)
        state.history.append(record)
        state.epoch += 1
        state.loss_sum, state.hits, state.seen = 0.0, 0, 0


def val_preprocessing(recipe: Recipe) -> Preprocessing:
    """Upstream's ``val_pipeline`` at the recipe's sizes: one test-mode clip, short side 256, centre crop."""
    p = recipe.pipeline
    return Preprocessing(
        clip_len=p.clip_len,
        frame_interval=p.frame_interval,
        num_clips=1,
        frame_uniform=p.frame_uniform,
        short_side=p.short_side,
        crop_size=p.crop_size,
        num_crops=1,
        mean=p.mean,
        std=p.std,
    )


def validate(
    model: Recognizer3D, data: LabelledVideos, recipe: Recipe, multi_label: bool = False
) -> dict[str, float | None]:
    """Top-1 accuracy and mean loss (no label smoothing) on ``data`` with the val pipeline, in
    inference mode; videos that fail to decode are left out."""
    pre = val_preprocessing(recipe)
    hits = seen = 0
    loss = 0.0
    for path, labels in zip(data.paths, data.labels, strict=True):
        try:
            views = make_views(decode_video(path, short_side=pre.short_side), pre, "single")
        except VideoError as e:
            logger.warning("skipped in validation: %s", e)
            continue
        logits = model(tf.constant(views), training=False)["logits"]
        target = targets_of([labels], data.num_classes, multi_label)
        loss += float(classification_loss(logits, tf.constant(target), multi_label))
        hits += int(np.argmax(logits.numpy()[0])) in labels
        seen += 1
    if not seen:
        return {"val_top1": None, "val_loss": None}
    return {"val_top1": hits / seen, "val_loss": loss / seen}


def _truncate_log(path: Path, iteration: int) -> None:
    """Drop log lines of iterations at or after ``iteration`` (work lost by an interruption)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["iteration"] < iteration:
                kept.append(line)
        except (ValueError, KeyError):
            break  # a torn last line
    atomic_write_text(path, "".join(line + "\n" for line in kept))
