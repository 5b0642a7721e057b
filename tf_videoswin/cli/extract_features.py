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
    """Extract pooled features (per video or per snippet) of many videos with a feature_extractor export
    (:func:`tf_videoswin.features.extract_features`).

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

    import functools

    from ..errors import VideoSwinError
    from ..features import FeatureRequest, export_file, extract_features
    from ..video import SnippetSpec
    from .progress import ExtractionProgress

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
    try:
        result = extract_features(
            sources=args.sources,
            model=args.model,
            output=args.out,
            request=request,
            format=args.format,
            flush_every=args.flush_every,
            engine=args.engine,
            verify=not args.no_verify,
            num_actors=args.num_actors,
            address=args.address,
            progress=functools.partial(ExtractionProgress, disable=args.no_progress),
        )
    except (VideoSwinError, OSError, ValueError) as e:  # e.g. OutputWriteError: a full disk
        error(e)
        return EXIT_INPUT
    for e in result.errors:
        print(f"skipped: {e['error']}", file=sys.stderr)
    if args.single_file is not None:
        try:
            export_file(args.out, args.single_file)
        except (OSError, VideoSwinError) as e:
            error(f"--single-file {args.single_file}: {e}")
            return EXIT_INPUT
    print(
        f"{result.extracted} extracted, {result.already_done} already done (skipped), "
        f"{len(result.errors)} failed -> {args.out}"
    )
    return outcome_code(result.with_features, len(result.errors))


if __name__ == "__main__":
    sys.exit(main())
