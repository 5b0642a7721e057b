"""Extract Video Swin features for many videos, resumably: one vector per video, or per snippet.

    python -m tf_videoswin.extract_features SOURCE [SOURCE ...] --model exports/<variant>/feature_extractor \\
        --out features/ [--views single|official] [--save-feature-map]
    python -m tf_videoswin.extract_features SOURCE [SOURCE ...] --model .../feature_extractor \\
        --out features/ --snippets [--snippet-frames 32] [--stride 16] [--frame-interval 1] [--fps F] \\
        [--snippet-tokens]

SOURCE: video files, directories (searched recursively) and text lists of paths, mixed.

Output (both engines): --out is a folder of Parquet parts, one per batch of finished videos, with
_manifest.json (variant, options) and _errors.json (videos that failed and why). Read it with
pandas.read_parquet(OUT). Columns: path, variant, pooled [C] (+ feature_map, feature_map_shape with
--save-feature-map); with --snippets one row per snippet: path, variant, snippet_index, snippet_start,
snippet_end (seconds), pooled [C] (+ tokens [T/2][C] with --snippet-tokens), and OUT/_npy/ holds
<video_id>.npy [n_snippets, C] and <video_id>.json (fps, stride, times) for temporal-localization code.
Re-running skips videos already written; videos that fail are reported and retried next time.

--single-file X.parquet also writes every row into one Parquet file after the run. --format npz
writes the single .npz archive of version 0.2 instead (local engine, one vector per video; the file
is rewritten every --flush-every videos: for small sets).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from ..video.sampling import VIEW_MODES
from .common import (
    EXIT_CODES_HELP,
    EXIT_INPUT,
    add_no_verify_argument,
    add_ray_arguments,
    add_verbose_argument,
    configure_logging,
    error,
    outcome_code,
    positive_float,
    positive_int,
)

#: Suffixes that name a single file: --out must not silently become a folder (or another format).
_FILE_SUFFIXES = (".parquet", ".pq", ".npz", ".npy", ".h5", ".hdf5", ".pkl", ".csv", ".json")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_videoswin.extract_features",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument(
        "sources", nargs="+", type=Path, help="video files, directories of videos, text lists of paths"
    )
    p.add_argument("--model", required=True, type=Path, help="a feature_extractor export folder")
    p.add_argument(
        "--out", required=True, type=Path, help="output folder of Parquet parts (.npz with --format npz)"
    )
    p.add_argument(
        "--format",
        choices=("parquet", "npz"),
        default="parquet",
        help="parquet (default): a folder of Parquet parts; npz: one .npz archive (0.2 format, local engine)",
    )
    p.add_argument(
        "--single-file", type=Path, help="after the run, also write every row into this .parquet file"
    )
    p.add_argument(
        "--views",
        choices=VIEW_MODES,
        help="single (default): one clip, centre crop; official: the test protocol's views, averaged",
    )
    p.add_argument("--save-feature-map", action="store_true", help="also store [C, T', H', W'] per video")
    snip = p.add_argument_group("snippets (temporal localization)")
    snip.add_argument("--snippets", action="store_true", help="one feature per snippet instead of per video")
    snip.add_argument(
        "--snippet-frames", type=positive_int, help="frames per snippet given to the model (32)"
    )
    snip.add_argument("--stride", type=positive_int, help="frames between snippet starts (16)")
    snip.add_argument(
        "--frame-interval",
        type=positive_int,
        help="take every k-th frame inside a snippet (1; 2 is official)",
    )
    snip.add_argument("--fps", type=positive_float, help="resample every video to this frame rate first")
    snip.add_argument(
        "--snippet-tokens", action="store_true", help="also store each snippet's [T/2, C] tokens"
    )
    p.add_argument("--batch-size", type=positive_int, default=4, help="views or snippets per forward pass")
    p.add_argument(
        "--flush-every",
        type=positive_int,
        default=8,
        help="write a Parquet part every N finished videos (npz: rewrite the file)",
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: Ray Data (decode tasks + model actor pool), same output",
    )
    add_no_verify_argument(p)
    add_ray_arguments(p)
    add_verbose_argument(p)
    return p


def check_arguments(args: argparse.Namespace) -> str | None:
    """The first inconsistency of the arguments, as a message, or ``None``."""
    snippet_only = {
        "--snippet-frames": args.snippet_frames,
        "--stride": args.stride,
        "--frame-interval": args.frame_interval,
        "--fps": args.fps,
        "--snippet-tokens": args.snippet_tokens or None,
    }
    if not args.snippets:
        given = [flag for flag, value in snippet_only.items() if value is not None]
        if given:
            return f"{', '.join(given)}: only with --snippets"
    else:
        if args.views is not None:
            return "--views applies to one vector per video; snippets use one centre crop"
        if args.save_feature_map:
            return "--save-feature-map applies to one vector per video; use --snippet-tokens with --snippets"
    suffix = args.out.suffix.lower()
    if args.format == "npz":
        if args.engine == "ray":
            return "--format npz is written by the local engine only; the ray engine writes a Parquet folder"
        if args.snippets:
            return "--format npz holds one vector per video; --snippets writes a Parquet folder"
        if args.single_file is not None:
            return "--single-file exports a Parquet folder; it does not apply to --format npz"
    elif (suffix in _FILE_SUFFIXES and not (args.out / "_manifest.json").is_file()) or (
        args.out.exists() and not args.out.is_dir()
    ):
        hint = (
            " or --format npz for the single .npz archive of version 0.2"
            if suffix == ".npz"
            else f"; add --single-file {args.out} to also get one file"
        )
        return (
            f"--out {args.out}: the output is a directory of Parquet parts, not a single file; "
            f"give a directory (e.g. --out {args.out.with_suffix('')}/){hint}"
        )
    if args.single_file is not None and args.single_file.suffix.lower() not in (".parquet", ".pq"):
        return f"--single-file {args.single_file}: the single file is Parquet; name it .parquet"
    return None


def main(argv: list[str] | None = None) -> int:
    """Extract pooled features (per video or per snippet) of many videos with a feature_extractor export.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        The exit code (docs/exit-codes.md): 0 when every video has its features, 3 when some failed
        (listed, retried next run; the others kept), 2 when none has features, no video was found, or
        on an unusable export, source, option or output.
    Example:
        >>> main(["videos/", "--model", "exports/<variant>/feature_extractor", "--out", "features/"])
        ... # doctest: +SKIP
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    problem = check_arguments(args)
    if problem:
        error(problem)
        return EXIT_INPUT

    from ..errors import VideoSwinError
    from ..export import serving as serving_lib
    from ..features import NpzFeatureStore, ParquetFeatureStore, check_unique_ids
    from ..features.compute import FeatureRequest
    from ..video import SnippetSpec, collect_videos

    store = None
    try:
        videos = [str(v) for v in collect_videos(args.sources)]
        if not videos:  # before any output exists: no folder is created for nothing
            error(f"no videos in {', '.join(map(str, args.sources))}")
            return EXIT_INPUT
        serving = serving_lib.load_serving(args.model, ("features", "pooled"), verify=not args.no_verify)
        pre, variant = serving.metadata.preprocessing, serving.metadata.variant
        spec = None
        if args.snippets:
            spec = SnippetSpec(
                frames=args.snippet_frames or 32,
                stride=args.stride or 16,
                frame_interval=args.frame_interval or 1,
                fps=args.fps,
            )
        request = FeatureRequest(
            snippets=spec,
            views=args.views or "single",
            feature_map=args.save_feature_map,
            tokens=args.snippet_tokens,
            batch_size=args.batch_size,
        )
        if args.format == "npz":
            store = NpzFeatureStore(args.out, variant, args.save_feature_map)
        else:
            store = ParquetFeatureStore(args.out, request.manifest(variant, pre))
        todo = [v for v in videos if v not in store]
        if spec is not None:
            check_unique_ids(videos)
            store.npy.check_owner(todo)
        if args.engine == "ray":
            from ..ray import require_ray

            require_ray()
            serving = None  # the driver needs only the metadata; each actor loads its own copy
        store.open()
        todo = [v for v in videos if v not in store]  # again under the lock: rows of a run just ended
    except (VideoSwinError, OSError, ValueError) as e:
        if store is not None:
            store.close()
        error(e)
        return EXIT_INPUT
    try:
        return _extract(args, store, serving, videos, todo, pre, request, spec is not None)
    except VideoSwinError as e:  # e.g. OutputWriteError: a full disk; the parts written are whole
        error(e)
        return EXIT_INPUT
    finally:
        store.close()


def _extract(args, store, serving, videos: list[str], todo: list[str], pre, request, snippets: bool) -> int:
    """Compute and store the features of ``todo``; print the summary; the exit code."""
    from ..errors import VideoSwinError
    from .progress import ExtractionProgress

    skipped = len(videos) - len(todo)

    with ExtractionProgress(len(todo), snippets, args.no_progress) as progress:
        if args.engine == "ray":
            from ..ray import iter_features_with_ray

            results = iter_features_with_ray(todo, args.model, pre, request, args.num_actors, args.address)
        else:
            results = _iter_local(serving, todo, pre, request, progress.snippets_done)
        done, errors = _write_results(results, store, progress, args.flush_every, args.engine == "ray")
    for e in errors:
        print(f"skipped: {e['error']}", file=sys.stderr)
    if args.single_file is not None:
        from ..features import export_file

        try:
            export_file(args.out, args.single_file)
        except (OSError, VideoSwinError) as e:
            error(f"--single-file {args.single_file}: {e}")
            return EXIT_INPUT
    print(f"{done} extracted, {skipped} already done (skipped), {len(errors)} failed -> {args.out}")
    return outcome_code(done + skipped, len(errors))


def _iter_local(serving, videos: list[str], pre, request, on_batch) -> Iterator[tuple[str, object, str]]:
    """``(path, result, error)`` per video, computed in this process."""
    from ..errors import VideoError
    from ..features.compute import extract_one

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


if __name__ == "__main__":
    sys.exit(main())
