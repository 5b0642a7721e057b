"""Results -> one Arrow table with the manifest's schema (the same for both engines).

Vectors are ``list<float32>`` columns (``pandas`` reads each cell as a NumPy array: ``np.stack(df.pooled)``);
``tokens`` is ``list<list<float32>>`` (``[T/2][C]`` per snippet); a feature map is stored flat with its
shape in ``feature_map_shape`` (``np.reshape(row.feature_map, row.feature_map_shape)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .manifest import FeatureManifest
from .results import SnippetFeatures, VideoFeatures


def arrow_schema(manifest: FeatureManifest):
    """The ``pyarrow.Schema`` of the rows of a feature folder with this manifest."""
    import pyarrow as pa

    vector = pa.list_(pa.float32())
    types = {
        "path": pa.string(),
        "variant": pa.string(),
        "pooled": vector,
        "feature_map": vector,
        "feature_map_shape": pa.list_(pa.int32()),
        "snippet_index": pa.int32(),
        "snippet_start": pa.float64(),
        "snippet_end": pa.float64(),
        "tokens": pa.list_(vector),
    }
    return pa.schema([(name, types[name]) for name in manifest.columns])


def _lists(rows: Sequence[np.ndarray], dtype) -> object:
    """A ``list<dtype>`` array from 1-D arrays (no per-element Python conversion)."""
    import pyarrow as pa

    lengths = np.array([len(r) for r in rows], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    values = np.concatenate(rows).astype(dtype) if rows else np.zeros(0, dtype)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))


def _nested(rows: Sequence[np.ndarray], dtype) -> object:
    """A ``list<list<dtype>>`` array from 2-D arrays."""
    import pyarrow as pa

    inner = _lists([row for matrix in rows for row in matrix], dtype)
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in rows])]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def results_table(results: Sequence[VideoFeatures | SnippetFeatures], manifest: FeatureManifest):
    """One ``pyarrow.Table`` of the rows of ``results`` (one per video, or one per snippet)."""
    import pyarrow as pa

    schema = arrow_schema(manifest)
    columns: dict[str, object] = {}
    if manifest.mode == "video":
        columns["path"] = pa.array([r.path for r in results], pa.string())
        columns["pooled"] = _lists([r.pooled for r in results], np.float32)
        if manifest.feature_map:
            columns["feature_map"] = _lists([r.feature_map.ravel() for r in results], np.float32)
            columns["feature_map_shape"] = _lists([np.array(r.feature_map.shape) for r in results], np.int32)
    else:
        columns["path"] = pa.array([r.path for r in results for _ in range(r.count)], pa.string())
        columns["snippet_index"] = pa.array(
            np.concatenate([np.arange(r.count) for r in results]).astype(np.int32) if results else [],
            pa.int32(),
        )
        columns["snippet_start"] = pa.array(
            np.concatenate([r.timeline.start for r in results]) if results else [], pa.float64()
        )
        columns["snippet_end"] = pa.array(
            np.concatenate([r.timeline.end for r in results]) if results else [], pa.float64()
        )
        columns["pooled"] = _lists([p for r in results for p in r.pooled], np.float32)
        if manifest.tokens:
            columns["tokens"] = _nested([t for r in results for t in r.tokens], np.float32)
    rows = len(columns["path"])
    columns["variant"] = pa.array([manifest.variant] * rows, pa.string())
    return pa.table([columns[name] for name in schema.names], schema=schema)
