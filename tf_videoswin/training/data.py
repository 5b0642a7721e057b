"""Training batches: a seeded order per epoch, one seeded generator per sample, threaded decoding.

Everything random is a pure function of ``(seed, epoch, position)``: the order of epoch ``e`` is
``default_rng([seed, e]).permutation(n)`` and the sample at position ``p`` is augmented with
``default_rng([seed, e, p])``. A run resumed at any step therefore sees exactly the videos and the
augmentations an uninterrupted run would have seen, with no generator state to save.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ..datasets import LabelledVideos
from ..errors import VideoError
from ..video.train_pipeline import TrainPipeline, load_train_clip

logger = logging.getLogger(__name__)


def epoch_order(seed: int, epoch: int, size: int) -> np.ndarray:
    """The permutation of ``range(size)`` used in ``epoch``."""
    return np.random.default_rng([seed, epoch]).permutation(size)


def sample_rng(seed: int, epoch: int, position: int) -> np.random.Generator:
    """The generator that augments the sample at ``position`` of ``epoch``."""
    return np.random.default_rng([seed, epoch, position])


def iterations_per_epoch(size: int, batch_size: int) -> int:
    """Loader iterations of one epoch (the last batch may be smaller: mmaction's ``drop_last=False``)."""
    return -(-size // batch_size)


def targets(labels: Iterable[tuple[int, ...]], num_classes: int, multi_label: bool) -> np.ndarray:
    """Class indices ``[B]`` (int32), or multi-hot ``[B, num_classes]`` (float32) for multi-label."""
    labels = list(labels)
    if not multi_label:
        return np.array([lab[0] for lab in labels], np.int32)
    out = np.zeros((len(labels), num_classes), np.float32)
    for row, lab in enumerate(labels):
        out[row, list(lab)] = 1.0
    return out


@dataclasses.dataclass
class Batch:
    videos: np.ndarray  # float32 [B, 3, T, c, c]
    targets: np.ndarray
    paths: list[str]
    failed: list[dict]  # {"path", "error"} of the samples of this batch that could not be decoded


def prefetch(fn: Callable, items: Iterable, workers: int, window: int) -> Iterator:
    """``fn(item)`` for each item, in order, computed by ``workers`` threads at most ``window`` ahead."""
    items = iter(items)
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def train_batches(
    data: LabelledVideos,
    pipeline: TrainPipeline,
    *,
    seed: int,
    epoch: int,
    batch_size: int,
    multi_label: bool,
    start_iteration: int = 0,
    workers: int = 2,
    loader: Callable = load_train_clip,
) -> Iterator[Batch]:
    """The batches of ``epoch`` from loader iteration ``start_iteration`` on.

    A video that cannot be decoded is left out of its batch (and reported in ``Batch.failed``); a
    batch whose videos all failed has an empty ``videos`` array.
    """
    order = epoch_order(seed, epoch, len(data))
    positions = range(start_iteration * batch_size, len(order))

    def load(position: int):
        index = int(order[position])
        try:
            clip = loader(data.paths[index], pipeline, sample_rng(seed, epoch, position))
        except VideoError as e:
            return index, None, str(e)
        return index, clip, None

    rows: list = []
    for row in prefetch(load, positions, workers, window=max(2 * batch_size, 2 * workers)):
        rows.append(row)
        if len(rows) == batch_size:
            yield _collate(rows, data, multi_label)
            rows = []
    if rows:
        yield _collate(rows, data, multi_label)


def _collate(rows: list, data: LabelledVideos, multi_label: bool) -> Batch:
    good = [(i, clip) for i, clip, _ in rows if clip is not None]
    failed = [{"path": data.paths[i], "error": err} for i, clip, err in rows if clip is None]
    for f in failed:
        logger.warning("skipped in training: %s", f["error"])
    videos = np.stack([clip for _, clip in good]) if good else np.zeros((0,), np.float32)
    return Batch(
        videos,
        targets((data.labels[i] for i, _ in good), data.num_classes, multi_label),
        [data.paths[i] for i, _ in good],
        failed,
    )
