"""The model floor: Keras layers, the recognizer, its TensorFlow and ``keras.ops`` forwards, FLOPs.

Imports Keras (on TensorFlow: TensorFlow; on JAX or PyTorch: no TensorFlow), and of this package only
the configs, the registry and the window geometry; never the converter, the video pipeline or the
command-line apps.
"""

from ..backend import require_backend

if require_backend() == "tensorflow":
    from ..cpu import log_if_onednn_off

    log_if_onednn_off()

from .recognizer import DATA_FORMATS, Recognizer3D, build_model

__all__ = ["DATA_FORMATS", "Recognizer3D", "build_model"]
