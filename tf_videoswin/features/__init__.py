"""Feature extraction at dataset scale: the per-video work and the files it writes.

- :mod:`.compute`: one video -> :class:`~.results.VideoFeatures` or :class:`~.results.SnippetFeatures`,
  the functions both engines (local and Ray) call;
- :mod:`.extract`: :func:`extract_features`, the extraction app as one call (sources, export, request,
  engine -> a feature folder), from Python with keyword arguments;
- :mod:`.ray_engine`: the same work (and the prediction app's) on Ray Data, written by the same store;
- :mod:`.parquet_store`: the feature folder (Parquet parts appended per batch, ``_manifest.json``,
  ``_errors.json``), :func:`read_table`, :func:`read_features` and :func:`export_file`;
- :mod:`.npy_layout`: ``<video_id>.npy`` + ``.json`` per video for temporal-localization code;
- :mod:`.npz_store`: the 0.2 single ``.npz`` archive (``--format npz``);
- :mod:`.manifest`, :mod:`.table`, :mod:`.results`, :mod:`.files`: the folder's contract, its Arrow
  schema, the in-memory results, atomic writes.

Imports pyarrow only when Parquet is read or written.
"""

from .compute import FeatureRequest
from .extract import ExtractionResult, extract_features
from .manifest import FeatureManifest
from .npy_layout import NpyLayout, check_unique_ids, video_id
from .npz_store import NpzFeatureStore
from .parquet_store import ParquetFeatureStore, export_file, part_files, read_features, read_table
from .results import SnippetFeatures, VideoFeatures, from_bytes

__all__ = [
    "ExtractionResult",
    "FeatureManifest",
    "FeatureRequest",
    "NpyLayout",
    "NpzFeatureStore",
    "ParquetFeatureStore",
    "SnippetFeatures",
    "VideoFeatures",
    "check_unique_ids",
    "export_file",
    "extract_features",
    "from_bytes",
    "part_files",
    "read_features",
    "read_table",
    "video_id",
]
