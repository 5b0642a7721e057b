"""The model floor: Keras layers, pure window math and functional kernels, the recognizer, FLOPs.

Imports TensorFlow and Keras, and of this package only the configs and the registry
(:mod:`tf_videoswin.config`, :mod:`tf_videoswin.variants`); never the converter, the video
pipeline or the command-line apps.
"""

from ..cpu import log_if_onednn_off
from .recognizer import Recognizer3D, build_model

log_if_onednn_off()

__all__ = ["Recognizer3D", "build_model"]
