"""Video Swin Transformer in TensorFlow / Keras 3.

Importing the package does not import TensorFlow: the variant registry and label maps stay
usable from tools that only need them. The model is loaded on first access.
"""

from __future__ import annotations

from typing import Any

from .variants import VARIANTS, VariantConfig, get_variant, load_labels

__all__ = ["VARIANTS", "Recognizer3D", "VariantConfig", "build_model", "get_variant", "load_labels"]


def __getattr__(name: str) -> Any:
    if name in ("Recognizer3D", "build_model"):
        from . import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'tf_videoswin' has no attribute {name!r}")
