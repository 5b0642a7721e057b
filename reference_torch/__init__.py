"""Reference PyTorch Video Swin mirroring the official SwinTransformer/Video-Swin-Transformer code.

Needs torch and einops (``pip install 'tf-videoswin[convert]'``); no mmcv. Reading checkpoint files
is the converter's job (:mod:`porting.checkpoint`); this package is the model only.
"""

from tf_videoswin.optional import require

require("torch", "the PyTorch reference model")
require("einops", "the PyTorch reference model")

from .i3d_head import I3DHead  # noqa: E402
from .recognizer import Recognizer3D, build_recognizer  # noqa: E402
from .swin_transformer import SwinTransformer3D  # noqa: E402

__all__ = ["I3DHead", "Recognizer3D", "SwinTransformer3D", "build_recognizer"]
