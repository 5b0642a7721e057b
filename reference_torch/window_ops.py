"""Pure window arithmetic of Video Swin, as the official implementation does it (PyTorch)."""

from __future__ import annotations

import torch

Size3 = tuple[int, int, int]


def get_window_size(
    x_size: Size3, window_size: Size3, shift_size: Size3 | None = None
) -> Size3 | tuple[Size3, Size3]:
    """Clip the window to the feature size; a clipped axis gets no shift (``size <= window``)."""
    use_window = list(window_size)
    use_shift = list(shift_size) if shift_size is not None else None
    for i, size in enumerate(x_size):
        if size <= window_size[i]:
            use_window[i] = size
            if use_shift is not None:
                use_shift[i] = 0
    if use_shift is None:
        return tuple(use_window)
    return tuple(use_window), tuple(use_shift)


def window_partition(x: torch.Tensor, window_size: Size3) -> torch.Tensor:
    """``(B, D, H, W, C)`` -> ``(B * num_windows, Wd * Wh * Ww, C)``; windows ordered d, h, w."""
    b, d, h, w, c = x.shape
    wd, wh, ww = window_size
    x = x.view(b, d // wd, wd, h // wh, wh, w // ww, ww, c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, wd * wh * ww, c)


def window_reverse(windows: torch.Tensor, window_size: Size3, b: int, d: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, Wd, Wh, Ww, C)`` -> ``(B, D, H, W, C)``."""
    wd, wh, ww = window_size
    x = windows.view(b, d // wd, h // wh, w // ww, wd, wh, ww, -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def relative_position_index(window_size: Size3) -> torch.Tensor:
    """``(N, N)`` int64 index into the ``(2Wd-1)(2Wh-1)(2Ww-1)`` bias table, tokens flattened d, h, w."""
    wd, wh, ww = window_size
    coords = torch.stack(
        torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww), indexing="ij")
    ).flatten(1)  # 3, N
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)  # N, N, 3
    rel = rel + torch.tensor([wd - 1, wh - 1, ww - 1])
    strides = torch.tensor([(2 * wh - 1) * (2 * ww - 1), 2 * ww - 1, 1])
    return (rel * strides).sum(-1)


def padded_size(size: Size3, window_size: Size3) -> Size3:
    """Each axis rounded up to a multiple of the (clipped) window."""
    return tuple(-(-s // w) * w for s, w in zip(size, window_size, strict=True))


def compute_mask(padded: Size3, window_size: Size3, shift_size: Size3, device: torch.device) -> torch.Tensor:
    """``(nW, N, N)`` additive mask for shifted windows: 0 within a region, -100 across regions.

    Regions follow the official slicing ``[:-w], [-w:-s], [-s:]`` per axis. With ``s == 0`` the
    last slice ``[-0:]`` covers the whole axis, so that axis has a single region.
    """
    img_mask = torch.zeros((1, *padded, 1), device=device)
    label = 0
    slices = [
        (slice(-w), slice(-w, -s), slice(-s, None)) for w, s in zip(window_size, shift_size, strict=True)
    ]
    for sd in slices[0]:
        for sh in slices[1]:
            for sw in slices[2]:
                img_mask[:, sd, sh, sw, :] = label
                label += 1
    mask_windows = window_partition(img_mask, window_size).squeeze(-1)  # nW, N
    diff = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)
