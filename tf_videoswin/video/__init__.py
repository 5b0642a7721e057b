"""The Video Swin test pipelines (official, mmaction2 1.x): a video file to ``[views, 3, T, 224, 224]``.

Reproduces mmaction2's pipeline as configured by SwinTransformer/Video-Swin-Transformer (commit db018fb,
``configs/recognition/swin/*.py``, ``test_pipeline``)::

    DecordInit -> SampleFrames(clip_len=32, frame_interval=2, num_clips=4 | frame_uniform, test_mode=True)
    -> DecordDecode -> Resize(scale=(-1, 224)) -> ThreeCrop(crop_size=224) -> Flip(flip_ratio=0)
    -> Normalize(mean, std, to_bgr=False) -> FormatShape('NCTHW')

Each step is a pure function naming the upstream code it follows (modules of this package:
``sampling``, ``transforms``, ``views``; decoding in ``decode``, video sources in ``sources``):

- :func:`sample_test_clips`: ``SampleFrames._get_test_clips`` and ``SampleFrames.__call__``
  (``out_of_bound_opt='loop'``, ``start_index=0`` as ``VideoDataset`` sets it),
  ``mmaction/datasets/pipelines/loading.py``;
- :func:`sample_test_clips_evenly`: mmaction2 1.x's ``SampleFrames`` test branch for 3D models
  (``mmaction/datasets/transforms/loading.py``): clip starts evenly spaced from the first frame to the
  last possible start (``Preprocessing.clip_starts == "evenly_spaced"``);
- :func:`sample_frame_uniform` (SSv2): ``SampleFrames.get_seq_frames``, test-mode branch, official file;
- :func:`rescale_size`: ``Resize.__init__`` (``(-1, 224)`` becomes ``(inf, 224)``) and
  ``mmcv.rescale_size`` / ``_scale_size`` (``int(x * scale + 0.5)``);
- :func:`resize_bilinear`: ``mmcv.imresize(interpolation='bilinear')``, i.e. ``cv2.resize`` with
  ``INTER_LINEAR``, emulated in NumPy (no OpenCV or TensorFlow dependency);
- :func:`three_crop_offsets`: ``ThreeCrop.__call__``, ``mmaction/datasets/pipelines/augmentations.py``;
- :func:`normalize`: ``Normalize`` / ``mmcv.imnormalize_``, or ``(x - mean) / std`` as mmaction2 1.x's
  ``ActionDataPreprocessor`` computes it (``Preprocessing.normalization``);
- :func:`make_views`: ``ThreeCrop`` lists all frames of crop 0, then crop 1, then crop 2, and
  ``FormatShape('NCTHW')`` reshapes that to ``[crops, clips, ...]``: views are crop-major.

mmaction2 1.x's ``Resize``, ``ThreeCrop`` and ``FormatShape`` are the same code as the official ones;
its mean, std and view order are the same too.

Decoding streams (``decode``, ``sampled``): :func:`load_views` decodes a video once and keeps only the
sampled frames, resized as they arrive, so memory does not grow with the video's length; the result
equals decoding every frame first, bit for bit. Snippets for temporal localization (``snippets``: the
conventions as pure functions; ``snippet_stream``: the streaming reader) use the same single-view steps.

Decoding uses PyAV; the official pipeline uses decord, whose frame count and YUV->RGB conversion can
differ slightly on some files (``backend='decord'`` uses it when it is installed).
"""

from ..errors import VideoError, VideoSourceError
from .decode import DecodedFrame, VideoInfo, decode_video, iter_decoded, iter_frames, probe_video
from .sampled import read_sampled_frames
from .sampling import (
    VIEW_MODES,
    frame_indices,
    sample_frame_uniform,
    sample_test_clips,
    sample_test_clips_evenly,
)
from .snippet_stream import SnippetStream, SnippetTimeline
from .snippets import (
    SnippetSpec,
    grid_frame_count,
    grid_source_indices,
    snippet_count,
    snippet_frame_indices,
    snippet_starts,
    snippet_times,
)
from .sources import VIDEO_EXTENSIONS, collect_videos, is_video_file, list_videos
from .transforms import (
    center_crop_offset,
    normalize,
    rescale_size,
    resize_bilinear,
    resize_to_short_side,
    three_crop_offsets,
)
from .views import clip_views, load_views, make_views

__all__ = [
    "VIDEO_EXTENSIONS",
    "VIEW_MODES",
    "DecodedFrame",
    "SnippetSpec",
    "SnippetStream",
    "SnippetTimeline",
    "VideoError",
    "VideoInfo",
    "VideoSourceError",
    "center_crop_offset",
    "clip_views",
    "collect_videos",
    "decode_video",
    "frame_indices",
    "grid_frame_count",
    "grid_source_indices",
    "is_video_file",
    "iter_decoded",
    "iter_frames",
    "list_videos",
    "load_views",
    "make_views",
    "normalize",
    "probe_video",
    "read_sampled_frames",
    "rescale_size",
    "resize_bilinear",
    "resize_to_short_side",
    "sample_frame_uniform",
    "sample_test_clips",
    "sample_test_clips_evenly",
    "snippet_count",
    "snippet_frame_indices",
    "snippet_starts",
    "snippet_times",
    "three_crop_offsets",
]
