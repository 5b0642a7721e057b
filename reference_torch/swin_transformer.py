"""PyTorch Video Swin backbone with the official module names and behaviour.

The module tree mirrors ``mmaction/models/backbones/swin_transformer.py`` of
SwinTransformer/Video-Swin-Transformer so that the official state_dict loads with ``strict=True``.
Behaviour that matters for parity and is kept on purpose:

- padding of the input to the patch size and of each stage to the (clipped) window, after ``norm1``;
- a window clipped to the feature size on any axis where ``size <= window``, with no shift on that axis;
- for clipped windows the top-left ``[:N, :N]`` slice of the full relative-position index;
- shift masks with -100, exact (erf) GELU, LayerNorm eps 1e-5;
- PatchMerging concatenation order x0, x1, x2, x3 (x1 is the odd row, even column).

mmaction2 1.x's ``mmaction/models/backbones/swin.py`` computes the same and uses the same module names,
except the final LayerNorm, ``norm3`` (one norm per ``out_indices=(3,)``): ``final_norm="norm3"`` builds
that layout, so mmaction2 state_dicts load with ``strict=True`` too.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .window_ops import (
    Size3,
    compute_mask,
    get_window_size,
    padded_size,
    relative_position_index,
    window_partition,
    window_reverse,
)


class DropPath(nn.Module):
    """Stochastic depth per sample; identity in eval mode."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()  # exact erf form, as upstream
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class WindowAttention3D(nn.Module):
    """Multi-head self-attention inside 3D windows with a relative position bias."""

    def __init__(
        self,
        dim: int,
        window_size: Size3,
        num_heads: int,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = tuple(window_size)
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        wd, wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads)
        )
        self.register_buffer("relative_position_index", relative_position_index(self.window_size))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        # Upstream quirk kept on purpose: a clipped window of N < Wd*Wh*Ww tokens uses the
        # top-left N x N block of the full index, not an index recomputed for the clipped window.
        index = self.relative_position_index[:n, :n].reshape(-1)
        bias = self.relative_position_bias_table[index].reshape(n, n, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(b_ // nw, nw, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = self.attn_drop(attn.softmax(dim=-1))
        x = (attn @ v).transpose(1, 2).reshape(b_, n, c)
        return self.proj_drop(self.proj(x))


class SwinTransformerBlock3D(nn.Module):
    """(Shifted) window attention + MLP, both pre-norm with residuals."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: Size3 = (2, 7, 7),
        shift_size: Size3 = (0, 0, 0),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_size = tuple(window_size)
        self.shift_size = tuple(shift_size)
        for s, w in zip(self.shift_size, self.window_size, strict=True):
            if not 0 <= s < w:
                raise ValueError(f"shift_size {shift_size} must lie in [0, window_size {window_size})")
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, self.window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def forward_part1(self, x: torch.Tensor, mask_matrix: torch.Tensor) -> torch.Tensor:
        b, d, h, w, c = x.shape
        window_size, shift_size = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = self.norm1(x)  # norm before padding: padded tokens are zeros, not normalised biases
        pad_d = (window_size[0] - d % window_size[0]) % window_size[0]
        pad_h = (window_size[1] - h % window_size[1]) % window_size[1]
        pad_w = (window_size[2] - w % window_size[2]) % window_size[2]
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h, 0, pad_d))
        _, dp, hp, wp, _ = x.shape
        shifted = any(s > 0 for s in shift_size)
        if shifted:
            x = torch.roll(x, shifts=tuple(-s for s in shift_size), dims=(1, 2, 3))
        windows = window_partition(x, window_size)
        windows = self.attn(windows, mask=mask_matrix if shifted else None)
        x = window_reverse(windows.view(-1, *window_size, c), window_size, b, dp, hp, wp)
        if shifted:
            x = torch.roll(x, shifts=shift_size, dims=(1, 2, 3))
        return x[:, :d, :h, :w, :].contiguous()

    def forward_part2(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.mlp(self.norm2(x)))

    def forward(self, x: torch.Tensor, mask_matrix: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.forward_part1(x, mask_matrix))
        return x + self.forward_part2(x)


class PatchMerging(nn.Module):
    """2x2 spatial merge (time untouched): concat x0, x1, x2, x3, LayerNorm, linear 4C -> 2C."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w, _ = x.shape
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x0 = x[:, :, 0::2, 0::2, :]
        x1 = x[:, :, 1::2, 0::2, :]
        x2 = x[:, :, 0::2, 1::2, :]
        x3 = x[:, :, 1::2, 1::2, :]
        return self.reduction(self.norm(torch.cat([x0, x1, x2, x3], -1)))


class BasicLayer(nn.Module):
    """One stage: ``depth`` blocks alternating plain and shifted windows, then optional PatchMerging."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window_size: Size3 = (1, 7, 7),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: Sequence[float] | float = 0.0,
        downsample: bool = False,
    ) -> None:
        super().__init__()
        self.window_size = tuple(window_size)
        self.shift_size = tuple(w // 2 for w in self.window_size)
        rates = list(drop_path) if isinstance(drop_path, Sequence) else [drop_path] * depth
        self.blocks = nn.ModuleList(
            SwinTransformerBlock3D(
                dim=dim,
                num_heads=num_heads,
                window_size=self.window_size,
                shift_size=(0, 0, 0) if i % 2 == 0 else self.shift_size,
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                qk_scale=qk_scale,
                drop=drop,
                attn_drop=attn_drop,
                drop_path=rates[i],
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, D, H, W)`` -> ``(B, C', D, H', W')``."""
        _, _, d, h, w = x.shape
        window_size, shift_size = get_window_size((d, h, w), self.window_size, self.shift_size)
        x = rearrange(x, "b c d h w -> b d h w c")
        mask = compute_mask(padded_size((d, h, w), window_size), window_size, shift_size, x.device)
        for blk in self.blocks:
            x = blk(x, mask)
        if self.downsample is not None:
            x = self.downsample(x)
        return rearrange(x, "b d h w c -> b c d h w")


class PatchEmbed3D(nn.Module):
    """Pad to the patch size, Conv3d with stride = kernel, then LayerNorm over channels."""

    def __init__(
        self, patch_size: Size3 = (2, 4, 4), in_chans: int = 3, embed_dim: int = 96, patch_norm: bool = True
    ) -> None:
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.embed_dim = embed_dim
        self.proj = nn.Conv3d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size)
        self.norm = nn.LayerNorm(embed_dim) if patch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, d, h, w = x.shape
        pd, ph, pw = self.patch_size
        x = F.pad(x, (0, (pw - w % pw) % pw, 0, (ph - h % ph) % ph, 0, (pd - d % pd) % pd))
        x = self.proj(x)
        if self.norm is not None:
            x = rearrange(self.norm(rearrange(x, "b c d h w -> b d h w c")), "b d h w c -> b c d h w")
        return x


class SwinTransformer3D(nn.Module):
    """Video Swin backbone: ``(B, 3, T, H, W)`` -> ``(B, 8C, T/2, H/32, W/32)`` after the final norm."""

    def __init__(
        self,
        patch_size: Size3 = (2, 4, 4),
        in_chans: int = 3,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: Size3 = (8, 7, 7),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.2,
        patch_norm: bool = True,
        final_norm: str = "norm",
    ) -> None:
        super().__init__()
        if not final_norm.isidentifier():
            raise ValueError(f"final_norm must be a module name, got {final_norm!r}")
        self.num_layers = len(depths)
        self.patch_embed = PatchEmbed3D(patch_size, in_chans, embed_dim, patch_norm)
        self.pos_drop = nn.Dropout(p=drop_rate)
        dpr = torch.linspace(
            0, drop_path_rate, sum(depths), device="cpu"
        ).tolist()  # also under a meta device
        self.layers = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(depths, num_heads, strict=True)):
            start = sum(depths[:i])
            self.layers.append(
                BasicLayer(
                    dim=embed_dim * 2**i,
                    depth=depth,
                    num_heads=heads,
                    window_size=window_size,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_scale=qk_scale,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[start : start + depth],
                    downsample=i < self.num_layers - 1,
                )
            )
        self.num_features = embed_dim * 2 ** (self.num_layers - 1)
        # ``norm`` (official) or ``norm3`` (mmaction2 1.x): the name is the only difference between the two.
        self.final_norm_name = final_norm
        self.add_module(final_norm, nn.LayerNorm(self.num_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pos_drop(self.patch_embed(x))
        for layer in self.layers:
            x = layer(x.contiguous())
        x = rearrange(x, "n c d h w -> n d h w c")
        x = getattr(self, self.final_norm_name)(x)
        return rearrange(x, "n d h w c -> n c d h w")
