"""Reference PyTorch Video Swin mirroring the official SwinTransformer/Video-Swin-Transformer code."""

from .checkpoint import CheckpointError, extract_state_dict, load_checkpoint_file, load_state_dict
from .i3d_head import I3DHead
from .recognizer import Recognizer3D, build_recognizer
from .swin_transformer import SwinTransformer3D

__all__ = [
    "CheckpointError",
    "I3DHead",
    "Recognizer3D",
    "SwinTransformer3D",
    "build_recognizer",
    "extract_state_dict",
    "load_checkpoint_file",
    "load_state_dict",
]
