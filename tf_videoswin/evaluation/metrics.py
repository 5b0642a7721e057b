"""Accuracy metrics exactly as mmaction computes them (``mmaction/core/evaluation/accuracy.py`` of the
official repository, the same in mmaction2 1.x ``mmaction/evaluation/functional/accuracy.py``).

Pure NumPy, on per-video predictions: ``top_k`` holds each video's class indices by decreasing
probability; ``-1`` rows (videos without a prediction) can be counted as misses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k_accuracy(top_k: Sequence[Sequence[int]], labels: Sequence[int], k: int) -> float:
    """Fraction of videos whose label is among their ``k`` most probable classes.

    mmaction: ``argsort(scores)[:, -k:][:, ::-1]`` contains the label. With fewer than ``k`` classes
    every class is in the top k.
    """
    if not len(labels):
        raise ValueError("no videos")
    hits = [label in list(row)[:k] for row, label in zip(top_k, labels, strict=True)]
    return float(np.mean(hits))


def mean_class_accuracy(predictions: Sequence[int], labels: Sequence[int]) -> float:
    """mmaction's ``mean_class_accuracy``: the mean of per-class recall over the classes that occur
    among the labels **or the predictions**.

    mmaction builds a confusion matrix over ``unique(concat(pred, labels))`` and averages
    ``hits / count`` per row, with 0 for a row of count 0: a class that is predicted but never the
    label adds a 0 to the mean. On a full validation set (every class present) this is the mean
    per-class recall. A prediction of ``-1`` (no prediction) is a miss and adds no class.
    """
    pred = np.asarray(predictions, np.int64)
    real = np.asarray(labels, np.int64)
    if not len(real):
        raise ValueError("no videos")
    classes = np.unique(np.concatenate([pred[pred >= 0], real]))
    recalls = []
    for c in classes:
        count = int(np.sum(real == c))
        recalls.append(float(np.sum((real == c) & (pred == c))) / count if count else 0.0)
    return float(np.mean(recalls))
