"""The upstream optimizer in Keras: AdamW per parameter group, with gradient accumulation.

PyTorch's ``AdamW`` takes a learning rate and a weight decay per parameter group; a Keras optimizer
has one of each, so every group (see :mod:`.param_groups`) gets its own ``keras.optimizers.AdamW``
with ``lr * lr_mult`` and ``weight_decay * decay_mult``. Keras' AdamW decays decoupled, as PyTorch's:
``w -= lr * weight_decay * w`` before the Adam update. (Keras adds epsilon to ``sqrt(v)`` before the
bias correction of ``v``, PyTorch after it: the same update up to epsilon's size, 1e-8.)

Gradients are summed into accumulators over ``update_interval`` iterations, each loss divided by
``update_interval`` as upstream's ``DistOptimizerHook`` does, then applied in one step.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from ..errors import TrainingError
from .param_groups import ParamGroup


class GroupedAdamW:
    """One AdamW per parameter group, the accumulators of every trainable variable, one learning rate."""

    def __init__(
        self,
        groups: Sequence[ParamGroup],
        weight_decay: float,
        betas: tuple[float, float] = (0.9, 0.999),
        epsilon: float = 1e-8,
    ) -> None:
        self.groups = list(groups)
        self.optimizers = [
            keras.optimizers.AdamW(
                learning_rate=0.0,
                weight_decay=weight_decay * g.decay_mult,
                beta_1=betas[0],
                beta_2=betas[1],
                epsilon=epsilon,
                name=f"adamw_{i}",
            )
            for i, g in enumerate(self.groups)
        ]
        self.variables = [v for g in self.groups for v in g.variables]
        self.accumulators = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name=f"grad_accumulator_{i}")
            for i, v in enumerate(self.variables)
        ]
        for opt, group in zip(self.optimizers, self.groups, strict=True):
            opt.build(group.variables)
        # One traced update for every variable: eagerly, Keras dispatches each variable's AdamW ops one
        # by one, ~10x slower per step for Swin-T (docs/performance.md), against one trace per run. The
        # learning rates are variables, set outside the trace.
        self._apply = tf.function(self._apply_accumulated, autograph=False)
        self._accumulate = tf.function(self._add_to_accumulators, autograph=False)

    def accumulate(self, grads: Sequence[tf.Tensor | tf.IndexedSlices | None]) -> None:
        """Add one iteration's gradients (dense or IndexedSlices) to the accumulators."""
        self._accumulate([None if g is None else tf.convert_to_tensor(g) for g in grads])

    def _add_to_accumulators(self, grads: Sequence[tf.Tensor | None]) -> None:
        for acc, g in zip(self.accumulators, grads, strict=True):
            if g is not None:
                acc.assign_add(g)

    def step(self, base_lr: float) -> None:
        """Apply the accumulated gradients with ``base_lr * lr_mult`` per group, then zero them."""
        for opt, group in zip(self.optimizers, self.groups, strict=True):
            opt.learning_rate = base_lr * group.lr_mult
        self._apply()

    def _apply_accumulated(self) -> None:
        start = 0
        for opt, group in zip(self.optimizers, self.groups, strict=True):
            accs = self.accumulators[start : start + len(group.variables)]
            opt.apply_gradients(zip([tf.convert_to_tensor(a) for a in accs], group.variables, strict=True))
            start += len(group.variables)
        for acc in self.accumulators:
            acc.assign(tf.zeros_like(acc))

    # ------------------------------------------------------------------ state for checkpoints
    def state(self) -> dict[str, np.ndarray]:
        """Every optimizer variable (step count, learning rate, moments) and accumulator, by position."""
        arrays = {}
        for i, opt in enumerate(self.optimizers):
            for j, v in enumerate(opt.variables):
                arrays[f"opt{i}_{j}"] = np.asarray(v.numpy())
        for j, acc in enumerate(self.accumulators):
            arrays[f"acc_{j}"] = acc.numpy()
        return arrays

    def load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore :meth:`state`. Raises :class:`TrainingError` if it belongs to other groups/variables."""
        expected = {k: v.shape for k, v in self.state().items()}
        got = {k: np.shape(v) for k, v in arrays.items()}
        if expected != got:
            missing = sorted(set(expected) ^ set(got)) or [k for k in expected if expected[k] != got[k]]
            raise TrainingError(
                f"optimizer state does not fit this model and recipe (first difference: {missing[:3]})"
            )
        for i, opt in enumerate(self.optimizers):
            for j, v in enumerate(opt.variables):
                v.assign(arrays[f"opt{i}_{j}"])
        for j, acc in enumerate(self.accumulators):
            acc.assign(arrays[f"acc_{j}"])

    @property
    def steps(self) -> int:
        return int(self.optimizers[0].iterations.numpy())
