"""The window geometry of Video Swin in NumPy, from static integers: one module for every path.

A stage's feature size decides its windows: the window is clipped to a small feature map and the shift
dropped on clipped axes (upstream ``get_window_size``), the map is padded to whole windows, a clipped
window of ``N`` tokens uses the top-left ``N x N`` of the full relative-position index (an upstream quirk
that changes outputs, kept on purpose), and the shifted blocks mask scores across shift regions with
-100. The keras.ops forward (JAX, PyTorch), the static deployment graph and the checkpoint checks all
take these facts from here; the TensorFlow model's dynamic graph computes the same values from runtime
shapes (``tf_videoswin.model.window_ops``, tested equal to this module).

Pure NumPy: importing it needs no TensorFlow, torch or Keras.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

Size3 = tuple[int, int, int]
#: A static clip shape ``(B, 3, T, H, W)``; ``B`` may be ``None`` (dynamic batch).
ClipShape = tuple[int | None, int, int, int, int]
#: Additive mask value between shifted-window regions (the official ``-100.0``).
MASK_VALUE = -100.0


@dataclasses.dataclass(frozen=True)
class StageGeometry:
    """Everything the blocks of one stage need about windows, for one static feature size.

    Attributes:
        size: ``(D, H, W)`` of the stage's feature map.
        window: the window in use (the configured one, clipped to ``size``).
        shift: the shift of the shifted blocks (half the configured window; 0 on clipped axes).
        padded: ``size`` rounded up to a multiple of ``window``.
        index: ``(N, N)`` int32 rows of the relative-position index in use (``N = prod(window)``): the
            top-left ``N x N`` of the full window's index, as upstream.

    The shift mask of the shifted blocks is :func:`shift_mask` (NumPy) or :func:`shift_mask_at_runtime`.
    """

    size: Size3
    window: Size3
    shift: Size3
    padded: Size3
    index: np.ndarray

    @property
    def has_shift(self) -> bool:
        """Some axis is shifted; otherwise the shifted blocks' mask would be all zeros and is skipped."""
        return any(self.shift)

    @property
    def counts(self) -> Size3:
        """Windows along D, H, W."""
        return tuple(p // w for p, w in zip(self.padded, self.window, strict=True))  # type: ignore[return-value]

    @property
    def num_windows(self) -> int:
        return math.prod(self.counts)

    @property
    def tokens(self) -> int:
        """Tokens per window, ``N``."""
        return math.prod(self.window)

    @property
    def needs_padding(self) -> bool:
        return self.padded != self.size

    @property
    def time_split(self) -> bool:
        """The shifted blocks may attend the last window row in T as two half windows: T is shifted
        (by half an even window), so that row holds two shift regions of ``Wd / 2`` frames each."""
        return self.shift[0] > 0 and self.window[0] % 2 == 0

    @property
    def whole_windows(self) -> int:
        """Windows a shifted block attends whole: all but the last row in T when :attr:`time_split`."""
        return self.num_windows - (self.counts[1] * self.counts[2] if self.time_split else 0)


def clip_window(size: Size3, window_size: Size3) -> tuple[Size3, Size3]:
    """Window and shift in use for a feature map: an axis with ``size <= window`` takes the whole axis
    and no shift (upstream ``get_window_size``); the shift is half the configured window."""
    window = tuple(s if s <= w else w for s, w in zip(size, window_size, strict=True))
    shift = tuple(0 if s <= w else w // 2 for s, w in zip(size, window_size, strict=True))
    return window, shift  # type: ignore[return-value]


def relative_position_index(window_size: Size3) -> np.ndarray:
    """``(N, N)`` int32 index into the ``(2Wd-1)(2Wh-1)(2Ww-1)`` bias table, tokens flattened d, h, w."""
    wd, wh, ww = window_size
    coords = np.stack(np.meshgrid(np.arange(wd), np.arange(wh), np.arange(ww), indexing="ij")).reshape(3, -1)
    rel = coords[:, :, None] - coords[:, None, :] + np.array([wd - 1, wh - 1, ww - 1])[:, None, None]
    return (rel[0] * (2 * wh - 1) * (2 * ww - 1) + rel[1] * (2 * ww - 1) + rel[2]).astype(np.int32)


def _partition_numpy(labels: np.ndarray, window: Size3) -> np.ndarray:
    """``(Dp, Hp, Wp)`` -> ``(nW, N)``, windows ordered d, h, w and tokens d, h, w within a window."""
    (dp, hp, wp), (wd, wh, ww) = labels.shape, window
    blocks = labels.reshape(dp // wd, wd, hp // wh, wh, wp // ww, ww).transpose(0, 2, 4, 1, 3, 5)
    return blocks.reshape(-1, wd * wh * ww)


def region_labels(padded: Size3, window: Size3, shift: Size3) -> np.ndarray:
    """``(nW, N)`` int32 region of every token of every window for the shifted blocks: regions are the
    slices ``[:-w], [-w:-s], [-s:]`` of each padded axis (one region when ``s == 0``)."""
    axes = []
    for size, w, s in zip(padded, window, shift, strict=True):
        pos = np.arange(size)
        axes.append((pos >= size - w).astype(np.int32) + (pos >= size - s) if s else np.zeros(size, np.int32))
    labels = axes[0][:, None, None] * 9 + axes[1][None, :, None] * 3 + axes[2][None, None, :]
    return _partition_numpy(labels, window).astype(np.int32)


def shift_mask(padded: Size3, window: Size3, shift: Size3) -> np.ndarray:
    """``(nW, N, N)`` float32 mask of shifted windows: -100 between tokens of different regions
    (:func:`region_labels`), 0 within one."""
    windows = region_labels(padded, window, shift)
    return np.where(windows[:, None, :] != windows[:, :, None], MASK_VALUE, 0.0).astype(np.float32)


def stage_geometry(size: Size3, window_size: Size3) -> StageGeometry:
    """The :class:`StageGeometry` of a stage whose feature map is ``size`` ``(D, H, W)``.

    Args:
        size: the stage's feature size (after patch embedding / merging).
        window_size: the configured window (e.g. ``(8, 7, 7)``).
    """
    size = tuple(int(s) for s in size)  # type: ignore[assignment]
    window, shift = clip_window(size, window_size)
    padded = tuple(-(-s // w) * w for s, w in zip(size, window, strict=True))
    n = math.prod(window)
    index = relative_position_index(window_size)[:n, :n]
    return StageGeometry(size, window, shift, padded, index)  # type: ignore[arg-type]


def stage_sizes(shape: ClipShape, patch_size: Size3, num_stages: int) -> list[Size3]:
    """The ``(D, H, W)`` feature size entering each stage for a clip of ``shape`` ``(B, 3, T, H, W)``."""
    _, _, t, h, w = shape
    size = (-(-t // patch_size[0]), -(-h // patch_size[1]), -(-w // patch_size[2]))
    sizes = [size]
    for _ in range(num_stages - 1):
        size = (size[0], -(-size[1] // 2), -(-size[2] // 2))
        sizes.append(size)
    return sizes
