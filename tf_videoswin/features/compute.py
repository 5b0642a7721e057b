"""The per-video work of feature extraction, shared by the local engine and the Ray engine.

- :class:`FeatureRequest`: what to compute (one vector per video or snippets, and the options);
- :func:`extract_one`: one video file -> its result, as the local engine runs it;
- :func:`video_features`: decoded test views -> :class:`.results.VideoFeatures` (pooled features
  averaged over the views, as before);
- :func:`snippet_features`: a video file -> :class:`.results.SnippetFeatures`, streaming: snippets
  are decoded and run through the model batch by batch, so memory does not grow with the video.

``serving`` is a loaded ``feature_extractor`` export (:func:`tf_videoswin.export.serving.load_serving`
with outputs ``features`` and ``pooled``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np

from ..config import Preprocessing
from ..export import serving as serving_lib
from ..video.snippet_stream import SnippetStream
from ..video.snippets import SnippetSpec
from ..video.views import load_views
from .manifest import FeatureManifest
from .results import SnippetFeatures, VideoFeatures


@dataclasses.dataclass(frozen=True)
class FeatureRequest:
    """What to extract from every video.

    Attributes:
        snippets: the snippet conventions (snippet mode), or ``None`` (one vector per video).
        views: ``'single'`` or ``'official'`` test views (one vector per video).
        feature_map: also keep the feature map averaged over views (one vector per video).
        tokens: also keep each snippet's temporal tokens (snippet mode).
        batch_size: views or snippets per forward pass.
    """

    snippets: SnippetSpec | None = None
    views: str = "single"
    feature_map: bool = False
    tokens: bool = False
    batch_size: int = 4

    @property
    def mode(self) -> str:
        return "video" if self.snippets is None else "snippets"

    def manifest(self, variant: str, pre: Preprocessing) -> FeatureManifest:
        """The feature folder manifest of rows made with this request by an export of ``variant``."""
        if self.snippets is None:
            return FeatureManifest(
                variant, "video", views=self.views, feature_map=self.feature_map, preprocessing=pre.to_dict()
            )
        return FeatureManifest(
            variant,
            "snippets",
            snippets=self.snippets.to_dict(),
            tokens=self.tokens,
            preprocessing=pre.to_dict(),
        )


def extract_one(
    serving,
    path: str,
    pre: Preprocessing,
    request: FeatureRequest,
    on_batch: Callable[[int], None] | None = None,
) -> VideoFeatures | SnippetFeatures:
    """One video's features as ``request`` asks: its test views' pooled features, or its snippets'.

    Raises:
        VideoError: the video cannot be used (the message names it and says why).
    """
    if request.snippets is not None:
        return snippet_features(
            serving, path, pre, request.snippets, request.batch_size, request.tokens, on_batch
        )
    views = load_views(path, pre, request.views)
    return video_features(serving, path, views, request.batch_size, request.feature_map)


def video_features(
    serving, path: str, views: np.ndarray, batch_size: int = 4, feature_map: bool = False
) -> VideoFeatures:
    """Pooled features of one video from its test views ``[V, 3, T, H, W]``, averaged over the views.

    Args:
        serving: a loaded feature_extractor export.
        path: the video's path (the row key).
        views: :func:`tf_videoswin.video.load_views` of the video.
        batch_size: views per forward pass.
        feature_map: also keep the feature map ``[C, T', H', W']`` averaged over the views.
    Returns:
        The video's :class:`VideoFeatures` (float32).
    """
    pooled, maps = serving_lib.pooled_features(serving, views, batch_size)
    return VideoFeatures(
        path, pooled.astype(np.float32), maps.mean(axis=0).astype(np.float32) if feature_map else None
    )


def snippet_features(
    serving,
    path: str | os.PathLike,
    pre: Preprocessing,
    spec: SnippetSpec,
    batch_size: int = 4,
    tokens: bool = False,
    on_batch: Callable[[int], None] | None = None,
) -> SnippetFeatures:
    """Pooled features of every snippet of a video, decoded and run batch by batch.

    Args:
        serving: a loaded feature_extractor export.
        path: a video file.
        pre: the export's preprocessing (resize, crop, normalisation).
        spec: the snippet conventions.
        batch_size: snippets per forward pass.
        tokens: also keep each snippet's temporal tokens ``[T/2, C]`` (the feature map averaged over
            space; ``pooled`` is their mean).
        on_batch: called with the number of snippets of each batch done (progress).
    Returns:
        The video's :class:`SnippetFeatures`: ``pooled [n, C]`` float32, times in seconds.
    Raises:
        VideoError: the video cannot be decoded or has no frame rate.
    """
    import tensorflow as tf

    stream = SnippetStream(path, pre, spec, batch_size)
    pooled, token_list = [], []
    for batch in stream:
        out = serving(tf.constant(batch))
        pooled.append(out["pooled"].numpy().astype(np.float32))
        if tokens:  # features: [B, C, T/2, H', W'] -> [B, T/2, C]
            token_list.append(out["features"].numpy().mean(axis=(3, 4)).transpose(0, 2, 1).astype(np.float32))
        if on_batch is not None:
            on_batch(len(batch))
    return SnippetFeatures(
        str(path),
        np.concatenate(pooled),
        np.concatenate(token_list) if tokens else None,
        stream.timeline,
    )
