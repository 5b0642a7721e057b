"""Classify videos with an exported classifier, as the upstream test protocol does.

    python -m tf_videoswin.predict SOURCE [SOURCE ...] --model exports/<variant>/classifier \\
        [--top-k 5] [--json]

SOURCE: video files, directories (searched recursively) and text lists of paths, mixed. Each video
is decoded, sampled and cropped into the test views of the export's upstream (Kinetics: 4 clips x 3
crops; SSv2: 1 frame-uniform clip x 3 crops; mmaction2 checkpoints: their evenly spaced clips),
softmax is averaged over views. Exit codes (docs/exit-codes.md): 0 every video classified, 3 some
failed (the others are still reported), 2 none could be, no video found, or a source that is neither a
video, a directory nor a list.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

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
    positive_int,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_videoswin.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument(
        "sources",
        nargs="+",
        type=Path,
        help="video files (anything PyAV/FFmpeg decodes), directories of videos, text lists of paths",
    )
    p.add_argument("--model", required=True, type=Path, help="a classifier export folder")
    p.add_argument(
        "--views",
        choices=VIEW_MODES,
        default="official",
        help="official: the test protocol's clips x 3 crops; single: one clip, centre crop",
    )
    p.add_argument("--top-k", type=positive_int, default=5)
    p.add_argument("--batch-size", type=positive_int, default=4, help="views per forward pass")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: run on Ray Data and write Parquet parts to --out (path, top-k)",
    )
    p.add_argument("--out", type=Path, help="ray: output directory of Parquet parts (resumable)")
    add_no_verify_argument(p)
    add_ray_arguments(p)
    add_verbose_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Classify videos with a classifier export; print the top-k classes (or JSON).

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        The exit code: 0 when every video was classified, 3 when some failed (the others are still
        reported), 2 when none could be, none was found, or the export is unusable.
    Example:
        >>> main(["clip.mp4", "--model", "exports/swin_tiny_patch244_window877_kinetics400_1k/classifier"])
        ... # doctest: +SKIP
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from tqdm import tqdm

    from ..errors import VideoSwinError
    from ..export.serving import load_serving, predict_views
    from ..video import VideoError, collect_videos, load_views

    try:
        args.videos = collect_videos(args.sources)
        if not args.videos:
            error(f"no videos in {', '.join(map(str, args.sources))}")
            return EXIT_INPUT
        serving = load_serving(args.model, ("logits",), verify=not args.no_verify)
    except VideoSwinError as e:
        error(e)
        return EXIT_INPUT
    if args.engine == "ray":
        return _main_ray(args, serving)
    pre, labels = serving.metadata.preprocessing, serving.labels
    results, failures = [], []
    bar = tqdm(args.videos, unit="video", disable=args.no_progress or len(args.videos) < 2, file=sys.stderr)
    for video in bar:
        try:
            probs = predict_views(serving, load_views(video, pre, args.views), args.batch_size)
        except VideoError as e:
            failures.append({"video": str(video), "error": str(e)})
            error(e)
            continue
        top = np.argsort(-probs)[: args.top_k]
        results.append(
            {
                "video": str(video),
                "top_k": [{"index": int(i), "label": labels[i], "probability": float(probs[i])} for i in top],
            }
        )
    if args.json:
        print(json.dumps({"results": results, "errors": failures}, indent=2))
    else:
        for r in results:
            print(r["video"])
            for t in r["top_k"]:
                print(f"  {t['probability']:.4f}  {t['label']}")
    return outcome_code(len(results), len(failures))


def _main_ray(args: argparse.Namespace, serving) -> int:
    from ..errors import VideoSwinError
    from ..features.ray_engine import PredictionRequest, predict_with_ray

    if args.out is None:
        error("--engine ray needs --out DIR (Parquet parts)")
        return EXIT_INPUT
    try:
        written, skipped, errors = predict_with_ray(
            [str(v) for v in args.videos],
            model=args.model,
            output=args.out,
            variant=serving.metadata.variant,
            preprocessing=serving.metadata.preprocessing,
            labels=serving.labels,
            request=PredictionRequest(top_k=args.top_k, views=args.views, batch_size=args.batch_size),
            num_actors=args.num_actors,
            address=args.address,
        )
    except (VideoSwinError, OSError) as e:  # a missing ray, another writer of --out, a full disk
        error(e)
        return EXIT_INPUT
    for e in errors:
        error(e["error"])
    summary = {"out": str(args.out), "written": written, "skipped": skipped, "errors": errors}
    print(
        json.dumps(summary, indent=2)
        if args.json
        else f"{written} predicted, {skipped} already done (skipped), {len(errors)} failed -> {args.out}"
    )
    return outcome_code(written + skipped, len(errors))


if __name__ == "__main__":
    sys.exit(main())
