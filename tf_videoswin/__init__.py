"""Video Swin Transformer in TensorFlow / Keras 3, ported from PyTorch with proven parity.

    >>> import tf_videoswin
    >>> model = tf_videoswin.from_pretrained("swin_tiny_patch244_window877_kinetics400_1k")  # doctest: +SKIP
    >>> model = tf_videoswin.build_model("swin_tiny_patch244_window877_kinetics400_1k")  # random weights

The model runs on Keras' TensorFlow, JAX and PyTorch backends (``KERAS_BACKEND``); the floors of the code
base are described once, in ``docs/architecture.md``.

Importing the package imports no TensorFlow or torch; the model loads on first access. It turns on
TensorFlow's oneDNN CPU kernels where TensorFlow would leave them off (:mod:`.cpu`;
``TF_ENABLE_ONEDNN_OPTS=0`` opts out). The Keras
layers register themselves with Keras when Keras is imported (before or after this package), so
``keras.saving.load_model("x.keras")`` needs no ``custom_objects``; the keras-hub ``Backbone`` form of the
model registers once keras-hub is imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import logging
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import cpu as _cpu  # noqa: F401  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow loads)
from .config import Preprocessing, VideoSwinConfig
from .errors import (
    BackendError,
    CheckpointError,
    CheckpointMismatchError,
    ClipShapeError,
    DeploymentError,
    DownloadError,
    ExportFormatError,
    FeatureStoreError,
    MissingDependencyError,
    OutputBusyError,
    OutputWriteError,
    ParityError,
    PortingError,
    UnknownVariantError,
    VideoError,
    VideoSourceError,
    VideoSwinError,
)
from .variants import VARIANTS, VariantConfig, get_variant, load_labels

try:
    __version__ = version("tf-videoswin")
except PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "VARIANTS",
    "BackendError",
    "CheckpointError",
    "CheckpointMismatchError",
    "ClipShapeError",
    "DeploymentError",
    "DownloadError",
    "ExportFormatError",
    "FeatureStoreError",
    "MissingDependencyError",
    "OutputBusyError",
    "OutputWriteError",
    "ParityError",
    "PortingError",
    "Preprocessing",
    "Recognizer3D",
    "UnknownVariantError",
    "VariantConfig",
    "VideoError",
    "VideoSourceError",
    "VideoSwinConfig",
    "VideoSwinError",
    "__version__",
    "build_model",
    "from_pretrained",
    "get_variant",
    "load_export_model",
    "load_labels",
]

_LAZY = {
    "Recognizer3D": "tf_videoswin.model",
    "build_model": "tf_videoswin.model",
    "from_pretrained": "tf_videoswin.pretrained",
    "load_export_model": "tf_videoswin.pretrained",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tf_videoswin' has no attribute {name!r}")


def _register_keras_objects() -> None:
    """Import the model floor: its layers register with Keras as they are defined."""
    try:
        importlib.import_module("tf_videoswin.model")
    except Exception as e:  # e.g. a backend whose library is missing: nothing of ours can load there
        logging.getLogger(__name__).debug("tf_videoswin layers not registered with Keras: %s", e)


def _register_hub_backbone() -> None:
    """Register the keras-hub ``Backbone`` of the model (:mod:`.model.hub_backbone`), so that
    ``keras_hub.models.Backbone.from_preset`` loads our presets; only once keras-hub is imported."""
    try:
        importlib.import_module("tf_videoswin.model.hub_backbone")
    except Exception as e:
        logging.getLogger(__name__).debug("tf_videoswin not registered with keras-hub: %s", e)


class _AfterImport(importlib.abc.MetaPathFinder):
    """One-shot import hook: once the module ``name`` has been imported, call ``then()``."""

    def __init__(self, name: str, then) -> None:
        self.name, self.then = name, then

    def find_spec(self, name, path=None, target=None):
        if name != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module, then = spec.loader.exec_module, self.then

        def exec_then(module):
            exec_module(module)
            then()

        spec.loader.exec_module = exec_then
        return spec


def _after_import(name: str, then) -> None:
    """``then()`` now if ``name`` is imported, else once it is."""
    if name in sys.modules:
        then()
    elif not any(isinstance(f, _AfterImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(name, then))


_after_import("keras", _register_keras_objects)
_after_import("keras_hub", _register_hub_backbone)
