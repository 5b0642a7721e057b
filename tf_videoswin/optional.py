"""Optional dependencies: import them by name and say which extra to install when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

#: Which ``pip install 'tf-videoswin[<extra>]'`` provides each optional top-level module.
EXTRAS: dict[str, str] = {
    "torch": "convert",
    "jax": "jax",
    "einops": "convert",
    "av": "video",
    "tensorflow_hub": "hub",
    "tf_keras": "hub",
    "ray": "ray",
    "pyarrow": "video",
    "onnxruntime": "deploy",
    "openvino": "deploy",
    "tf2onnx": "deploy",
    "onnx": "deploy",
    "ai_edge_litert": "deploy",
}


def install_hint(module: str) -> str:
    extra = EXTRAS.get(module.split(".")[0])
    return f"pip install 'tf-videoswin[{extra}]'" if extra else f"pip install {module}"


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra that provides it.

    Args:
        module: dotted module name, e.g. ``"torch"`` or ``"ray.data"``.
        purpose: what needs it, for the message (``"converting a checkpoint"``).
    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        top = module.split(".")[0]
        raise MissingDependencyError(
            f"{purpose} needs the optional dependency {top!r}, which is not installed: {install_hint(top)}"
        ) from e
