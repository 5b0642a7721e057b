"""Pure weight transforms from PyTorch layouts to Keras layouts (numpy in, numpy out)."""

from __future__ import annotations

import numpy as np


def identity(w: np.ndarray) -> np.ndarray:
    """Vectors, LayerNorm affine parameters and the bias table keep their layout."""
    return w


def linear_kernel(w: np.ndarray) -> np.ndarray:
    """``nn.Linear.weight`` ``(out, in)`` -> Keras Dense kernel ``(in, out)``."""
    if w.ndim != 2:
        raise ValueError(f"expected a 2-D Linear weight, got shape {w.shape}")
    return np.ascontiguousarray(w.T)


def conv3d_kernel(w: np.ndarray) -> np.ndarray:
    """``nn.Conv3d.weight`` ``(out, in, kd, kh, kw)`` -> Keras Conv3D kernel ``(kd, kh, kw, in, out)``."""
    if w.ndim != 5:
        raise ValueError(f"expected a 5-D Conv3d weight, got shape {w.shape}")
    return np.ascontiguousarray(w.transpose(2, 3, 4, 1, 0))
