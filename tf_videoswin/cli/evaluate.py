"""Measure an export's accuracy on a labelled video list with the official test protocol.

    python -m tf_videoswin.evaluate kinetics400_val_list_videos.txt --model exports/<variant> \\
        --data-root data/kinetics400/val [--out predictions.csv] [--json]

LIST is mmaction's annotation format (``relative/path.mp4 label_index`` per line). Each video is
viewed as the export's metadata says (Kinetics: 4 clips x 3 crops, SSv2: 1 frame-uniform clip x 3
crops; ``--views single``: one centre clip) and softmax is averaged over views. Reported: top-1,
top-5 and mean class accuracy (mmaction's definitions), and every video that is missing or cannot be
decoded, by path. Those are excluded from the metrics by default (upstream's numbers come from lists
of videos that all decode: mmaction has no skip, a missing file stops its test run);
``--failed-as-wrong`` counts them as misses instead.

Per-video predictions go to --out as they are made (CSV; ``--engine ray``: a folder of Parquet
parts), so an interrupted run resumes where it stopped (videos that failed are retried).
``--compare-torch CHECKPOINT`` also runs the PyTorch reference (``reference_torch``, the convert
extra) on the same views and reports top-1 agreement and the largest probability difference.
Exit codes (docs/exit-codes.md): 0 every listed video evaluated, 3 some failed (listed; the metrics
cover the others), 2 bad input or no video could be evaluated (no predictions file is left then).
"""

from __future__ import annotations

import argparse
import json
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
    positive_int,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_videoswin.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument("list", type=Path, help="annotation list: 'relative/path.mp4 label_index' per line")
    p.add_argument("--model", required=True, type=Path, help="an export folder (or its classifier/)")
    p.add_argument(
        "--data-root", type=Path, help="folder the list's paths are relative to (default: its folder)"
    )
    p.add_argument(
        "--views",
        choices=VIEW_MODES,
        default="official",
        help="official (default): the export's test views, softmax averaged; single: one centre clip",
    )
    p.add_argument("--batch-size", type=positive_int, default=4, help="views per forward pass")
    p.add_argument(
        "--out",
        type=Path,
        help="per-video predictions: a .csv file (default ./<LIST>.predictions.csv), or with --engine ray "
        "a folder of Parquet parts (default ./<LIST>.predictions/)",
    )
    p.add_argument(
        "--failed-as-wrong", action="store_true", help="count missing/undecodable videos as misses"
    )
    p.add_argument("--overwrite", action="store_true", help="discard predictions already in --out")
    p.add_argument(
        "--compare-torch",
        type=Path,
        metavar="CHECKPOINT",
        help="also run reference_torch from this .pth (the export's checkpoint) on the same views",
    )
    p.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of CHECKPOINT")
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    add_no_verify_argument(p)
    add_ray_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--no-progress", action="store_true")
    add_verbose_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Evaluate an export on an annotation list (:func:`tf_videoswin.evaluation.evaluate.evaluate`);
    print the metrics (or JSON).

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        0 when every video was evaluated, 3 when some failed (listed), 2 on bad input or when none
        could be.
    Example:
        >>> main(["val_list.txt", "--model", "exports/swin_tiny_patch244_window877_kinetics400_1k",
        ...       "--data-root", "data/kinetics400/val"])  # doctest: +SKIP
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from ..errors import VideoSwinError
    from ..evaluation.evaluate import evaluate

    try:
        result = evaluate(
            annotations=args.list,
            model=args.model,
            data_root=args.data_root,
            views=args.views,
            batch_size=args.batch_size,
            output=args.out,
            failed_as_wrong=args.failed_as_wrong,
            overwrite=args.overwrite,
            compare_torch=args.compare_torch,
            trust_checkpoint=args.trust_checkpoint,
            engine=args.engine,
            verify=not args.no_verify,
            num_actors=args.num_actors,
            address=args.address,
            progress=not args.no_progress,
        )
    except (VideoSwinError, OSError) as e:
        error(e)
        return EXIT_INPUT
    summary = result.to_dict()
    _print(args, summary)
    return outcome_code(summary["videos"], len(summary["failed"]))


def _print(args, summary: dict) -> None:
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    for e in summary["errors"]:
        error(f"{'missing' if e['missing'] else 'undecodable'}: {e['error']}")

    def pct(v):
        return "-" if v is None else f"{100 * v:.2f}"

    counts = f"{summary['videos']} of {summary['listed']} videos ({summary['views']} views)"
    print(
        f"{summary['variant']} on {counts}: "
        f"top-1 {pct(summary['top1'])}  top-5 {pct(summary['top5'])}  "
        f"mean class accuracy {pct(summary['mean_class_accuracy'])}"
    )
    if summary["failed"]:
        kinds = f"{summary['missing']} missing, {summary['undecodable']} undecodable"
        print(f"{len(summary['failed'])} failed ({kinds}), {summary['failed_counted_as']}")
    if "compare_torch" in summary:
        c = summary["compare_torch"]
        agree = "-" if c["top1_agreement"] is None else f"{c['top1_agreement']:.4f}"
        diff = "-" if c["max_prob_diff"] is None else f"{c['max_prob_diff']:.2e}"
        print(f"reference_torch: top-1 agreement {agree}, max probability difference {diff}")
    if summary["predictions"] is not None:
        print(f"predictions -> {summary['predictions']}")


if __name__ == "__main__":
    sys.exit(main())
