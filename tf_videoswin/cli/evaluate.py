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

TOP_K = 5


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
    """Evaluate an export on an annotation list; print the metrics (or JSON).

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

    try:
        return _run(args)
    except (VideoSwinError, OSError) as e:
        error(e)
        return EXIT_INPUT


def _classifier_dir(model: Path) -> Path:
    return model / "classifier" if (model / "classifier" / "saved_model.pb").is_file() else model


def _run(args: argparse.Namespace) -> int:
    from ..datasets import read_annotation_list
    from ..errors import DatasetError, ExportFormatError
    from ..export.serving import load_serving
    from ..output_lock import OutputLock, lock_file_for

    if args.compare_torch is not None and args.engine == "ray":
        raise ExportFormatError("--compare-torch runs locally; drop --engine ray")
    rows = read_annotation_list(args.list, args.data_root)
    serving = load_serving(_classifier_dir(args.model), ("logits",), verify=not args.no_verify)
    meta = serving.metadata
    num_classes = meta.architecture.num_classes
    labels = {}
    for path, (label,) in rows:
        if label >= num_classes:
            raise DatasetError(
                f"{args.list}: label {label} of {path} is out of range for {num_classes} classes"
            )
        labels[path] = label
    if len(labels) != len(rows):
        raise DatasetError(f"{args.list}: {len(rows) - len(labels)} videos are listed twice")
    default = f"{args.list.stem}.predictions" + ("" if args.engine == "ray" else ".csv")
    out = args.out or Path(default)
    if args.engine == "ray" and out.suffix == ".csv":
        raise ExportFormatError("with --engine ray, --out is a folder of Parquet parts, not a .csv file")
    if args.engine == "local" and out.suffix != ".csv":
        raise ExportFormatError(f"--out must end with .csv for the local engine, got {out}")
    identity = {
        "export": str(serving.path.resolve()),
        "variant": meta.variant,
        "classifier_sha256": next((f.sha256 for f in meta.files if f.path == "classifier"), None),
        "views": args.views,
        "preprocessing": meta.preprocessing.to_dict(),
    }
    with OutputLock(out, lock_file_for(out, inside=False)):  # one writer: each video's row once
        return _evaluate(args, serving, labels, out, identity)


def _evaluate(args, serving, labels: dict[str, int], out: Path, identity: dict) -> int:
    """Predict (resuming), summarise and print, as the only writer of ``out``; the exit code."""
    from ..errors import ExportFormatError
    from ..evaluation import store as store_lib

    if args.overwrite:
        store_lib.remove_predictions(out)
    store_lib.remove_stale_temporaries(out)
    previous = store_lib.read_sidecar(out)
    created = previous is None and not out.exists()  # so a run that evaluates nothing leaves nothing
    if previous is not None and previous.get("model") != identity:
        raise ExportFormatError(
            f"{out} holds predictions of another model or views ({previous.get('model', {}).get('variant')}, "
            f"{previous.get('model', {}).get('views')}); use another --out or --overwrite"
        )
    store_lib.write_sidecar(out, {"model": identity, "list": str(args.list)})

    if args.engine == "ray":
        predictions, errors, skipped = _predict_ray(args, serving, labels, out)
        comparisons = None
    else:
        predictions, errors, skipped, comparisons = _predict_local(args, serving, labels, out)
    summary = _summary(args, labels, predictions, errors, skipped, comparisons, out, identity)
    if summary["videos"] == 0 and created:
        store_lib.remove_predictions(out)
        summary["predictions"] = None
    else:
        store_lib.write_sidecar(out, {"model": identity, "list": str(args.list), "summary": summary})
    _print(args, summary)
    return outcome_code(summary["videos"], len(summary["failed"]))


def _predict_local(args, serving, labels: dict[str, int], out: Path):
    from tqdm import tqdm

    from ..errors import VideoError
    from ..evaluation.reference import compare, load_reference, reference_probabilities
    from ..evaluation.store import CsvPredictionStore, Prediction
    from ..export.serving import predict_views
    from ..video import load_views

    store = CsvPredictionStore(out)
    reference = None
    if args.compare_torch is not None:
        reference = load_reference(serving.metadata, args.compare_torch, args.trust_checkpoint)

    def done(path: str) -> bool:
        row = store.rows.get(path)
        return row is not None and (reference is None or row.torch_top1 is not None)

    todo = [p for p in labels if not done(p)]
    errors: list[dict] = []
    pre = serving.metadata.preprocessing
    for path in tqdm(todo, unit="video", disable=args.no_progress, file=sys.stderr):
        try:
            views = load_views(path, pre, args.views)
        except VideoError as e:
            errors.append({"path": path, "error": str(e), "missing": not Path(path).is_file()})
            continue
        probs = predict_views(serving, views, args.batch_size)
        top = np.argsort(-probs, kind="stable")[:TOP_K]
        torch_top1 = diff = None
        if reference is not None:
            c = compare(path, probs, reference_probabilities(reference, views, args.batch_size))
            torch_top1, diff = c.torch_top1, c.max_prob_diff
        store.add(
            Prediction(
                path,
                labels[path],
                tuple(int(i) for i in top),
                tuple(float(probs[i]) for i in top),
                torch_top1,
                diff,
            )
        )
    predictions = {p: store.rows[p] for p in labels if p in store.rows}
    return predictions, errors, len(labels) - len(todo), reference is not None


def _predict_ray(args, serving, labels: dict[str, int], out: Path):
    from ..evaluation.store import read_parquet_predictions
    from ..ray import predict_with_ray

    _, skipped, errors = predict_with_ray(
        list(labels),
        serving.path,
        out,
        serving.metadata.variant,
        serving.metadata.preprocessing,
        serving.labels,
        TOP_K,
        args.views,
        args.batch_size,
        args.num_actors,
        args.address,
    )
    for e in errors:
        e["missing"] = not Path(e["path"]).is_file()
    return read_parquet_predictions(out, labels), errors, skipped


def _summary(args, labels, predictions, errors, skipped, compared, out, identity) -> dict:
    from ..evaluation.metrics import mean_class_accuracy, top_k_accuracy

    failed = [e["path"] for e in errors]
    evaluated = [p for p in labels if p in predictions]
    rows = [(predictions[p].top_k, predictions[p].label) for p in evaluated]
    if args.failed_as_wrong:
        rows += [((-1,), labels[p]) for p in failed]
    summary: dict = {
        "top1": None,
        "top5": None,
        "mean_class_accuracy": None,
        "videos": len(evaluated),
        "listed": len(labels),
        "failed": failed,
        "missing": sum(1 for e in errors if e["missing"]),
        "undecodable": sum(1 for e in errors if not e["missing"]),
        "failed_counted_as": "wrong" if args.failed_as_wrong else "excluded",
        "already_predicted": skipped,
        "errors": errors,
        "predictions": str(out),
        "model": identity["export"],
        "variant": identity["variant"],
        "views": args.views,
    }
    if rows:
        tops, real = [r[0] for r in rows], [r[1] for r in rows]
        summary["top1"] = top_k_accuracy(tops, real, 1)
        summary["top5"] = top_k_accuracy(tops, real, TOP_K)
        summary["mean_class_accuracy"] = mean_class_accuracy([t[0] for t in tops], real)
    if compared:
        per_video = [
            {
                "path": p,
                "tf_top1": predictions[p].top1,
                "torch_top1": predictions[p].torch_top1,
                "max_prob_diff": predictions[p].torch_max_prob_diff,
            }
            for p in evaluated
        ]
        summary["compare_torch"] = {
            "checkpoint": str(args.compare_torch),
            "top1_agreement": (
                float(np.mean([v["tf_top1"] == v["torch_top1"] for v in per_video])) if per_video else None
            ),
            "max_prob_diff": max((v["max_prob_diff"] for v in per_video), default=None),
            "per_video": per_video,
        }
    return summary


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
