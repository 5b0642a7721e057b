"""Feature extraction as one call: many videos through a feature_extractor export into a feature folder.

    from tf_videoswin.features import FeatureRequest, extract_features
    from tf_videoswin.video import SnippetSpec

    result = extract_features(
        sources=["videos/"], model="exports/<variant>/feature_extractor", output="features/",
        request=FeatureRequest(snippets=SnippetSpec(frames=32, stride=16)),
    )
    result.extracted, result.errors

``python -m tf_videoswin.extract_features`` (:mod:`tf_videoswin.cli.extract_features`) checks its flags,
builds the :class:`~.compute.FeatureRequest`, calls :func:`extract_features` and prints the
:class:`ExtractionResult`. Both engines (this process, or Ray Data: :mod:`.ray_engine`) write the same
folder (:mod:`.parquet_store`); :func:`.parquet_store.export_file` then copies it into one file.

Importing this module imports neither TensorFlow nor Ray; :func:`extract_features` does.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

from .compute import FeatureRequest

logger = logging.getLogger(__name__)

FORMATS = ("parquet", "npz")
ENGINES = ("local", "ray")

PathLike = str | os.PathLike


class Progress(Protocol):
    """What :func:`extract_features` reports progress to (a context manager)."""

    def video_done(self, failed: bool = False) -> None: ...

    def snippets_done(self, count: int) -> None: ...

    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc: object) -> None: ...


class _Silent:
    """No progress display."""

    def __init__(self, total: int, snippets: bool = False) -> None:
        pass

    def video_done(self, failed: bool = False) -> None:
        pass

    def snippets_done(self, count: int) -> None:
        pass

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class ExtractionResult:
    """What a run did: ``extracted`` videos written now, ``already_done`` ones kept from earlier runs
    (skipped), and ``errors`` (``{"path", "error"}``) of the videos that failed (retried next run; also in
    the folder's ``_errors.json``)."""

    output: Path
    extracted: int
    already_done: int
    errors: list[dict[str, Any]]

    @property
    def with_features(self) -> int:
        """Videos that have their features in ``output``: written now or before."""
        return self.extracted + self.already_done


def extract_features(
    *,
    sources: Iterable[PathLike],
    model: PathLike,
    output: PathLike,
    request: FeatureRequest | None = None,
    format: str = "parquet",
    flush_every: int = 8,
    engine: str = "local",
    verify: bool = True,
    num_actors: int = 2,
    address: str | None = None,
    progress: Callable[[int, bool], Progress] | None = None,
) -> ExtractionResult:
    """Extract and store the features of every video not yet in ``output``, resumably.

    Args:
        sources: video files, directories (searched recursively) and text lists of paths, mixed.
        model: a ``feature_extractor`` export folder.
        output: the feature folder (Parquet parts, ``_manifest.json``, ``_errors.json``; snippet mode
            also ``_npy/``), or with ``format="npz"`` the 0.2 single ``.npz`` archive.
        request: what to compute (default: one vector per video, one centre clip).
        format: ``"parquet"`` or ``"npz"`` (local engine, one vector per video).
        flush_every: write a part every N finished videos (npz: rewrite the file).
        engine: ``"local"`` (this process) or ``"ray"`` (Ray Data: decode tasks and a model actor pool).
        verify: check the export's files against its metadata.
        num_actors, address: the Ray engine's model actors and cluster (default: a local runtime).
        progress: ``progress(videos_to_do, snippets)`` returns the context manager told of each finished
            video and snippet batch (:class:`Progress`); ``None``: no display.
    Returns:
        The :class:`ExtractionResult`; every finished video is written even when the run stops early.
    Raises:
        VideoSourceError: a source is unusable, or no video was found (no output is created then).
        FeatureStoreError, ExportFormatError, OutputBusyError, OSError: an unusable export or output.
        ValueError: options that do not go together.
    """
    from ..errors import VideoSourceError
    from ..export import serving as serving_lib
    from ..video import collect_videos
    from .npy_layout import check_unique_ids
    from .npz_store import NpzFeatureStore
    from .parquet_store import ParquetFeatureStore

    request = request or FeatureRequest()
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if format == "npz" and (engine == "ray" or request.snippets is not None):
        raise ValueError("the npz format holds one vector per video, written by the local engine")
    sources = list(sources)
    videos = [str(v) for v in collect_videos(sources)]
    if not videos:  # before any output exists: no folder is created for nothing
        raise VideoSourceError(f"no videos in {', '.join(map(str, sources))}")
    serving = serving_lib.load_serving(model, ("features", "pooled"), verify=verify)
    pre, variant = serving.metadata.preprocessing, serving.metadata.variant
    if format == "npz":
        store = NpzFeatureStore(output, variant, request.feature_map)
    else:
        store = ParquetFeatureStore(output, request.manifest(variant, pre))
    try:
        todo = [v for v in videos if v not in store]
        if request.snippets is not None:
            check_unique_ids(videos)
            store.npy.check_owner(todo)
        if engine == "ray":
            from .ray_engine import require_ray

            require_ray()
            serving = None  # the driver needs only the metadata; each actor loads its own copy
        store.open()
        todo = [v for v in videos if v not in store]  # again under the lock: rows of a run just ended
        with (progress or _Silent)(len(todo), request.snippets is not None) as bar:
            if engine == "ray":
                from .ray_engine import iter_features_with_ray

                results = iter_features_with_ray(
                    todo,
                    model=model,
                    preprocessing=pre,
                    request=request,
                    num_actors=num_actors,
                    address=address,
                )
            else:
                results = _iter_local(serving, todo, pre, request, bar.snippets_done)
            done, errors = _write_results(results, store, bar, flush_every, engine == "ray")
    finally:
        store.close()
    return ExtractionResult(Path(output), done, len(videos) - len(todo), errors)


def _iter_local(serving, videos: list[str], pre, request, on_batch) -> Iterator[tuple[str, object, str]]:
    """``(path, result, error)`` per video, computed in this process."""
    from ..errors import VideoError
    from .compute import extract_one

    for video in videos:
        try:
            yield video, extract_one(serving, video, pre, request, on_batch), ""
        except VideoError as e:
            yield video, None, str(e)


def _write_results(
    results, store, progress, flush_every: int, count_snippets: bool
) -> tuple[int, list[dict]]:
    """Store each result as it comes (a part every ``flush_every`` videos) and list the failures.

    Everything finished is written even when the run stops early (Ctrl-C, an unexpected error).
    ``count_snippets``: results arrive whole (Ray), so their snippets are counted here.
    """
    errors: list[dict] = []
    done = 0
    try:
        for path, result, problem in results:
            if result is None:
                errors.append({"path": path, "error": problem})
                progress.video_done(failed=True)
                continue
            store.add(result)
            done += 1
            if count_snippets:
                progress.snippets_done(result.count)
            progress.video_done()
            if store.pending_videos >= flush_every:
                store.flush()
                store.write_errors(errors)
    finally:  # also on Ctrl-C or an unexpected error: keep every video already finished
        store.flush()
        store.write_errors(errors)
    return done, errors
