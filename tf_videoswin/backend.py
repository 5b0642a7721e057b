"""Which Keras backend this process runs, and whether its library is installed.

The model runs on TensorFlow, JAX and PyTorch (``KERAS_BACKEND``, read by Keras once, at its first
import). A backend whose library is missing fails with :class:`~tf_videoswin.errors.MissingDependencyError`
naming the extra to install, before Keras' own import error; the command-line apps and the converter,
which write and read TensorFlow formats, run Keras on TensorFlow in their own process whatever the
user's shell sets (:func:`use_tensorflow`). See ``docs/backends.md``.

Pure Python: importing it imports neither Keras nor any backend.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from .errors import BackendError, MissingDependencyError

#: The Keras backends the model runs on, with the module each needs and the install line that brings it.
BACKENDS: dict[str, tuple[str, str]] = {
    "tensorflow": ("tensorflow", "pip install tf-videoswin"),
    "jax": ("jax", "pip install 'tf-videoswin[jax]'"),
    "torch": ("torch", "pip install 'tf-videoswin[torch]'"),
}


def selected_backend() -> str:
    """The backend Keras runs (or will run, once imported) in this process.

    Keras' own rule: the running backend once ``keras`` is imported; before, ``KERAS_BACKEND``, else
    the ``backend`` of ``$KERAS_HOME/keras.json`` (default ``~/.keras``), else TensorFlow.
    """
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    try:
        return json.loads((Path(home) / "keras.json").read_text()).get("backend") or "tensorflow"
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def require_backend() -> str:
    """The selected backend, if the model runs on it and its library is installed.

    Raises:
        BackendError: a backend the model does not run on (e.g. ``numpy``, ``openvino``).
        MissingDependencyError: the backend's library is not installed (names the install line).
    """
    backend = selected_backend()
    if backend not in BACKENDS:
        raise BackendError(
            f"KERAS_BACKEND={backend!r}: the Video Swin model runs on {', '.join(BACKENDS)}; "
            "set KERAS_BACKEND to one of them"
        )
    module, install = BACKENDS[backend]
    if "keras" not in sys.modules and not _installed(module):
        raise MissingDependencyError(
            f"KERAS_BACKEND={backend} needs the {module!r} package, which is not installed: {install}"
        )
    return backend


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # an import hook that refuses it, or a broken half-install
        return False


def use_tensorflow(purpose: str = "this command") -> None:
    """Run Keras on TensorFlow in this process: ``KERAS_BACKEND=tensorflow`` before Keras is imported.

    For the converter and the apps, which write and read TensorFlow formats (SavedModel, TF-Hub,
    TFLite): they work whatever backend the user's shell selects.

    Raises:
        BackendError: Keras already runs on another backend in this process.
        MissingDependencyError: TensorFlow is not installed.
    """
    if "tensorflow" not in sys.modules and not _installed("tensorflow"):
        raise MissingDependencyError(
            f"{purpose} needs TensorFlow, which is not installed: {BACKENDS['tensorflow'][1]}"
        )
    if "keras" in sys.modules:
        import keras

        if keras.backend.backend() != "tensorflow":
            raise BackendError(
                f"{purpose} needs Keras on TensorFlow, but this process already runs Keras on "
                f"{keras.backend.backend()!r}: run it in a process with KERAS_BACKEND=tensorflow"
            )
        return
    os.environ["KERAS_BACKEND"] = "tensorflow"


def require_tensorflow_backend(purpose: str) -> None:
    """Raise :class:`~tf_videoswin.errors.BackendError` unless Keras runs on TensorFlow: for writing
    or reading TensorFlow formats (SavedModel, TF-Hub, TFLite) from Python."""
    backend = selected_backend()
    if backend != "tensorflow":
        raise BackendError(
            f"{purpose} needs Keras on TensorFlow, but this process runs Keras on {backend!r}: run it "
            "with KERAS_BACKEND=tensorflow (the converter and the apps do so themselves), or load the "
            "export's weights file, which every backend reads"
        )
