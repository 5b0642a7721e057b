"""The upstream learning-rate schedule: mmcv 1.3's ``CosineAnnealingLrUpdaterHook`` with linear warmup.

``lr_config = dict(policy='CosineAnnealing', min_lr=0, warmup='linear', warmup_by_epoch=True,
warmup_iters=2.5)`` with mmcv's defaults ``by_epoch=True`` and ``warmup_ratio=0.1``:

- the regular rate changes once per epoch: ``annealing_cos(base, min_lr, epoch / max_epochs)``
  with ``annealing_cos(a, b, f) = b + (a - b) / 2 * (1 + cos(pi * f))``;
- during the first ``warmup_epochs * iters_per_epoch`` iterations it is scaled by
  ``1 - (1 - i / warmup_iters) * (1 - warmup_ratio)``: from 0.1x to 1x, linearly per iteration.

Iterations are loader iterations (micro-batches); with gradient accumulation the optimizer steps at
the end of every ``update_interval``-th iteration with the rate of that iteration.
"""

from __future__ import annotations

import math


def annealing_cos(start: float, end: float, factor: float) -> float:
    """Cosine from ``start`` (factor 0) to ``end`` (factor 1)."""
    return end + (start - end) / 2.0 * (math.cos(math.pi * factor) + 1.0)


def learning_rate(
    base_lr: float,
    iteration: int,
    iters_per_epoch: int,
    max_epochs: int,
    warmup_epochs: float = 2.5,
    warmup_ratio: float = 0.1,
    min_lr: float = 0.0,
) -> float:
    """The rate mmcv sets before (0-based) loader iteration ``iteration``.

    Args:
        base_lr: the configured rate (times the parameter group's ``lr_mult``).
        iteration: global loader iteration, counted from 0 over all epochs.
        iters_per_epoch: loader iterations per epoch.
        max_epochs: ``total_epochs`` of the run.
        warmup_epochs: ``warmup_iters`` with ``warmup_by_epoch=True`` (0: no warmup).
        warmup_ratio: rate at iteration 0 relative to the regular rate.
        min_lr: the cosine's end (``min_lr``, absolute).
    Returns:
        The learning rate.
    """
    if iters_per_epoch < 1 or max_epochs < 1:
        raise ValueError("iters_per_epoch and max_epochs must be >= 1")
    epoch = iteration // iters_per_epoch
    regular = annealing_cos(base_lr, min_lr, epoch / max_epochs)
    warmup_iters = warmup_epochs * iters_per_epoch
    if iteration < warmup_iters:
        k = (1.0 - iteration / warmup_iters) * (1.0 - warmup_ratio)
        return regular * (1.0 - k)
    return regular
