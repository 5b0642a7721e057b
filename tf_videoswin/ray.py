"""Feature extraction and prediction on Ray Data: the local engine's functions, run by a pool of actors.

The same functions as the local engine do the work, so results are identical bit for bit:

- features, one vector per video: :func:`tf_videoswin.video.load_views` in CPU tasks (decoding runs
  beside the model), then :func:`tf_videoswin.features.compute.video_features` in the actor pool;
- features of snippets: :func:`tf_videoswin.features.compute.snippet_features` in the actor pool (the
  video is streamed through the model there; shipping every snippet's clip between tasks would cost
  memory proportional to the video's length);
- predictions: ``load_views`` in tasks, then :func:`tf_videoswin.export.serving.predict_views`.

Results come back to the driver, which writes them with the local engine's store (one folder layout
for both engines). Ray is optional (``pip install 'tf-videoswin[ray]'``) and imported only here.
"""

from __future__ import annotations

import io
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .optional import require

logger = logging.getLogger(__name__)


def require_ray():
    """The ``ray`` module with Ray Data and pyarrow, or :class:`MissingDependencyError` naming the extra."""
    require("pyarrow", "the ray engine")
    require("ray.data", "the ray engine")
    return require("ray", "the ray engine")


_require_ray = require_ray


def done_paths(out_dir: Path) -> set[str]:
    """Video paths already present in the Parquet parts of ``out_dir``."""
    import pyarrow.parquet as pq

    if not out_dir.is_dir():
        return set()
    paths: set[str] = set()
    for part in sorted(out_dir.glob("part-*.parquet")):
        paths.update(pq.read_table(part, columns=["path"]).column("path").to_pylist())
    return paths


def read_features(out_dir: Path) -> dict[str, np.ndarray]:
    """``{path: pooled}`` of a feature folder (one vector per video)."""
    from .features import read_table

    table = read_table(out_dir, columns=["path", "pooled"])
    return {
        path: np.asarray(pooled, np.float32)
        for path, pooled in zip(
            table.column("path").to_pylist(), table.column("pooled").to_pylist(), strict=True
        )
    }


def _write_part(out_dir: Path, rows: list[dict]) -> None:
    """One Parquet part from rows of equal keys; numpy vectors become list columns (predictions)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {}
    for key in rows[0]:
        values = [r[key] for r in rows]
        if isinstance(values[0], np.ndarray):
            dtype = pa.float32() if values[0].dtype.kind == "f" else pa.int32()
            columns[key] = pa.array([v.tolist() for v in values], pa.list_(dtype))
        elif isinstance(values[0], list):
            columns[key] = pa.array(values, pa.list_(pa.string()))
        else:
            columns[key] = pa.array(values, pa.string())
    from .files import atomic_write

    table = pa.table(columns)  # a part is visible only once complete; a failed write leaves nothing
    atomic_write(out_dir / f"part-{uuid.uuid4().hex}.parquet", lambda tmp: pq.write_table(table, tmp))


def _decode(row: dict, preprocessing, views: str) -> dict:
    from .video import VideoError, load_views

    try:
        array = load_views(row["path"], preprocessing, views)
    except VideoError as e:
        return {"path": row["path"], "views": b"", "error": str(e)}
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return {"path": row["path"], "views": buffer.getvalue(), "error": ""}


def _load_array(blob) -> np.ndarray:
    return np.load(io.BytesIO(bytes(blob)), allow_pickle=False)


class _Predictor:
    """One loaded classifier export per actor: softmax averaged over the decoded views of each row."""

    def __init__(self, model_dir: str, batch_size: int) -> None:
        from .export.serving import load_serving

        # The driver checked the files (or was told --no-verify) before starting the actors.
        self.serving = load_serving(model_dir, ("logits",), verify=False)
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        from .export.serving import predict_views

        values, errors = [], []
        for blob, error in zip(batch["views"], batch["error"], strict=True):
            if error:
                values.append(None)
                errors.append(str(error))
                continue
            probs = predict_views(self.serving, _load_array(blob), self.batch_size).astype(np.float32)
            values.append(probs)
            errors.append("")
        dim = next((v.shape[0] for v in values if v is not None), 0)
        out = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in values])
        return {"path": batch["path"], "values": out, "error": np.array(errors, dtype=object)}


class _FeatureActor:
    """One loaded feature_extractor export per actor; each row becomes a packed result (or an error).

    Rows with ``views`` (decoded by :func:`_decode`) give one vector per video; rows with only
    ``path`` are streamed as snippets.
    """

    def __init__(self, model_dir: str, preprocessing, request) -> None:
        from .export.serving import load_serving

        # The driver checked the files (or was told --no-verify) before starting the actors.
        self.serving = load_serving(model_dir, ("features", "pooled"), verify=False)
        self.preprocessing = preprocessing
        self.request = request

    def _one(self, path: str, blob, error: str) -> tuple[bytes, str]:
        from .errors import VideoError
        from .features.compute import snippet_features, video_features

        if error:
            return b"", error
        r = self.request
        try:
            if r.snippets is None:
                result = video_features(self.serving, path, _load_array(blob), r.batch_size, r.feature_map)
            else:
                result = snippet_features(
                    self.serving, path, self.preprocessing, r.snippets, r.batch_size, r.tokens
                )
        except VideoError as e:
            return b"", str(e)
        return result.to_bytes(), ""

    def __call__(self, batch: dict) -> dict:
        paths = [str(p) for p in batch["path"]]
        blobs = batch["views"] if "views" in batch else [b""] * len(paths)
        errors = batch["error"] if "error" in batch else [""] * len(paths)
        out = [self._one(p, b, str(e)) for p, b, e in zip(paths, blobs, errors, strict=True)]
        return {
            "path": np.array(paths, dtype=object),
            "result": np.array([o[0] for o in out], dtype=object),
            "error": np.array([o[1] for o in out], dtype=object),
        }


class _RayRuntime:
    """Start a local Ray runtime (or join ``address``) unless one is running; stop only what it started."""

    def __init__(self, address: str | None) -> None:
        self.ray = require_ray()
        self.address = address
        self.started = False

    def __enter__(self):
        if not self.ray.is_initialized():
            self.ray.init(
                address=self.address, include_dashboard=False, log_to_driver=False, configure_logging=False
            )
            self.started = True
        return self.ray

    def __exit__(self, *exc) -> None:
        if self.started:
            self.ray.shutdown()


def iter_features_with_ray(
    videos: list[str],
    model_dir: str | os.PathLike,
    preprocessing,
    request,
    num_actors: int = 2,
    address: str | None = None,
) -> Iterator[tuple[str, object, str]]:
    """``(path, result, error)`` per video, as the actors finish them (any order).

    ``result`` is a :class:`~tf_videoswin.features.VideoFeatures` or
    :class:`~tf_videoswin.features.SnippetFeatures` (``None`` when ``error`` says why the video failed).

    Args:
        videos: video paths to process.
        model_dir: a feature_extractor export, readable by every worker under this path.
        preprocessing: the export's :class:`~tf_videoswin.config.Preprocessing`.
        request: a :class:`~tf_videoswin.features.compute.FeatureRequest`.
        num_actors: model actors (one loaded export each).
        address: an existing cluster's address (default: a local Ray runtime).
    """
    from .features.results import from_bytes

    if not videos:
        return
    with _RayRuntime(address):
        import ray.data

        # One video per block, so every model actor gets work. (No repartition: an all-to-all step
        # would wait for CPUs that the actor pool holds.)
        ds = ray.data.from_items([{"path": v} for v in videos], override_num_blocks=len(videos))
        if request.snippets is None:
            ds = ds.map(_decode, fn_kwargs={"preprocessing": preprocessing, "views": request.views})
        ds = ds.map_batches(
            _FeatureActor,
            fn_constructor_kwargs={
                "model_dir": str(model_dir),
                "preprocessing": preprocessing,
                "request": request,
            },
            batch_size=1,
            concurrency=num_actors,
            batch_format="numpy",
        )
        for row in ds.iter_rows():
            if row["error"]:
                yield str(row["path"]), None, str(row["error"])
            else:
                yield str(row["path"]), from_bytes(bytes(row["result"])), ""


def run_with_ray(
    videos: list[str],
    model_dir: Path,
    out_dir: Path,
    make_row,
    preprocessing,
    views: str = "official",
    batch_size: int = 4,
    num_actors: int = 2,
    address: str | None = None,
    rows_per_part: int = 64,
) -> tuple[int, int, list[dict]]:
    """Predict the videos not yet in ``out_dir``; ``make_row(path, probs)`` builds output rows.

    Returns ``(written, skipped, errors)``.
    """
    from .output_lock import OutputLock, lock_file_for, remove_stale

    out_dir.mkdir(parents=True, exist_ok=True)
    with OutputLock(out_dir, lock_file_for(out_dir, inside=True)):  # one writer: each video once
        remove_stale(out_dir, [".*.tmp"])
        return _run_with_ray(
            videos, model_dir, out_dir, make_row, preprocessing, views, batch_size, num_actors, address,
            rows_per_part,
        )  # fmt: skip


def _run_with_ray(
    videos, model_dir, out_dir, make_row, preprocessing, views, batch_size, num_actors, address, rows_per_part
) -> tuple[int, int, list[dict]]:
    already = done_paths(out_dir)
    todo = [v for v in videos if v not in already]
    if not todo:
        return 0, len(videos), []
    with _RayRuntime(address):
        import ray.data

        ds = ray.data.from_items([{"path": v} for v in todo], override_num_blocks=len(todo))
        ds = ds.map(_decode, fn_kwargs={"preprocessing": preprocessing, "views": views})
        ds = ds.map_batches(
            _Predictor,
            fn_constructor_kwargs={"model_dir": str(model_dir), "batch_size": batch_size},
            batch_size=1,
            concurrency=num_actors,
            batch_format="numpy",
        )
        done, errors, pending = 0, [], []
        for row in ds.iter_rows():
            if row["error"]:
                errors.append({"path": str(row["path"]), "error": str(row["error"])})
                continue
            pending.append(make_row(str(row["path"]), np.asarray(row["values"])))
            if len(pending) >= rows_per_part:
                _write_part(out_dir, pending)
                done, pending = done + len(pending), []
        if pending:
            _write_part(out_dir, pending)
            done += len(pending)
    return done, len(videos) - len(todo), errors


def predict_with_ray(
    videos,
    model_dir,
    out_dir,
    variant,
    preprocessing,
    labels,
    top_k=5,
    views="official",
    batch_size=4,
    num_actors=2,
    address=None,
) -> tuple[int, int, list[dict]]:
    """Top-k predictions to Parquet (``path``, ``variant``, ``top_k_index``, ``top_k_label``,
    ``top_k_probability``)."""

    def make_row(path: str, probs: np.ndarray) -> dict:
        top = np.argsort(-probs)[:top_k]
        return {
            "path": path,
            "variant": variant,
            "top_k_index": top.astype(np.int32),
            "top_k_label": [labels[i] if labels else str(i) for i in top],
            "top_k_probability": probs[top].astype(np.float32),
        }

    return run_with_ray(
        videos, model_dir, out_dir, make_row, preprocessing, views, batch_size, num_actors, address
    )
