"""Feature extraction and prediction on Ray Data: decode in CPU tasks, run the export in an actor pool,
write Parquet.

The same functions as the local engine do the work (:func:`tf_videoswin.video.load_views`,
:func:`tf_videoswin.export.serving.pooled_features`), so features are identical bit for bit.
Ray is optional (``pip install 'tf-videoswin[ray]'``) and imported only here.
"""

from __future__ import annotations

import io
import logging
import os
import uuid
from pathlib import Path

import numpy as np

from .optional import require

logger = logging.getLogger(__name__)


def _require_ray():
    """The ``ray`` module with Ray Data and pyarrow, or :class:`MissingDependencyError` naming the extra."""
    require("pyarrow", "the ray engine")
    require("ray.data", "the ray engine")
    return require("ray", "the ray engine")


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
    """``{path: pooled}`` from all Parquet parts of ``out_dir``."""
    import pyarrow.parquet as pq

    rows: dict[str, np.ndarray] = {}
    for part in sorted(out_dir.glob("part-*.parquet")):
        table = pq.read_table(part)
        for path, pooled in zip(
            table.column("path").to_pylist(), table.column("pooled").to_pylist(), strict=True
        ):
            rows[path] = np.asarray(pooled, np.float32)
    return rows


def _write_part(out_dir: Path, rows: list[dict]) -> None:
    """One Parquet part from rows of equal keys; numpy vectors become list columns."""
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
    name = f"part-{uuid.uuid4().hex}.parquet"
    tmp = out_dir / f".{name}.tmp"
    pq.write_table(pa.table(columns), tmp)
    os.replace(tmp, out_dir / name)  # a part is visible only once complete


def _decode(row: dict, preprocessing, views: str) -> dict:
    from .video import VideoError, load_views

    try:
        array = load_views(row["path"], preprocessing, views)
    except VideoError as e:
        return {"path": row["path"], "views": b"", "error": str(e)}
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return {"path": row["path"], "views": buffer.getvalue(), "error": ""}


class _Extractor:
    """One loaded export per actor; runs the model on the decoded views of each row.

    ``task="features"``: pooled features averaged over views (feature_extractor export);
    ``task="predict"``: softmax averaged over views (classifier export).
    """

    def __init__(self, model_dir: str, batch_size: int, task: str) -> None:
        from .export.serving import load_serving

        outputs = ("features", "pooled") if task == "features" else ("logits",)
        self.serving = load_serving(model_dir, outputs)
        self.batch_size = batch_size
        self.task = task

    def _run(self, views: np.ndarray) -> np.ndarray:
        from .export.serving import pooled_features, predict_views

        if self.task == "features":
            return pooled_features(self.serving, views, self.batch_size)[0].astype(np.float32)
        return predict_views(self.serving, views, self.batch_size).astype(np.float32)

    def __call__(self, batch: dict) -> dict:
        values, errors = [], []
        for blob, error in zip(batch["views"], batch["error"], strict=True):
            if error:
                values.append(None)
                errors.append(str(error))
                continue
            values.append(self._run(np.load(io.BytesIO(bytes(blob)), allow_pickle=False)))
            errors.append("")
        dim = next((v.shape[0] for v in values if v is not None), 0)
        out = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in values])
        return {"path": batch["path"], "values": out, "error": np.array(errors, dtype=object)}


def run_with_ray(
    videos: list[str],
    model_dir: Path,
    out_dir: Path,
    make_row,
    preprocessing,
    task: str = "features",
    views: str = "single",
    batch_size: int = 4,
    num_actors: int = 2,
    address: str | None = None,
    rows_per_part: int = 64,
) -> tuple[int, int, list[dict]]:
    """Run ``task`` on the videos not yet in ``out_dir``; ``make_row(path, vector)`` builds output rows.

    Returns ``(written, skipped, errors)``.
    """
    ray = _require_ray()
    out_dir.mkdir(parents=True, exist_ok=True)
    already = done_paths(out_dir)
    todo = [v for v in videos if v not in already]
    if not todo:
        return 0, len(videos), []
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        import ray.data

        # One video per block, so every model actor gets work. (No repartition: an all-to-all step
        # would wait for CPUs that the actor pool holds.)
        ds = ray.data.from_items([{"path": v} for v in todo], override_num_blocks=len(todo))
        ds = ds.map(_decode, fn_kwargs={"preprocessing": preprocessing, "views": views})
        ds = ds.map_batches(
            _Extractor,
            fn_constructor_kwargs={"model_dir": str(model_dir), "batch_size": batch_size, "task": task},
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
    finally:
        if started_here:
            ray.shutdown()
    return done, len(videos) - len(todo), errors


def extract_with_ray(
    videos,
    model_dir,
    out_dir,
    variant,
    preprocessing,
    views="single",
    batch_size=4,
    num_actors=2,
    address=None,
) -> tuple[int, int, list[dict]]:
    """Pooled features to Parquet (``path``, ``variant``, ``pooled``)."""

    def make_row(path: str, pooled: np.ndarray) -> dict:
        return {"path": path, "variant": variant, "pooled": pooled.astype(np.float32)}

    return run_with_ray(
        videos,
        model_dir,
        out_dir,
        make_row,
        preprocessing,
        "features",
        views,
        batch_size,
        num_actors,
        address,
    )


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
        videos, model_dir, out_dir, make_row, preprocessing, "predict", views, batch_size, num_actors, address
    )
