"""Classify videos with an exported classifier, as the official test protocol does.

    python -m tf_videoswin.predict VIDEO [VIDEO ...] --model exports/<variant>/classifier [--top-k 5] [--json]

Each video is decoded, sampled and cropped into the official test views (Kinetics: 4 clips x 3
crops; SSv2: 1 frame-uniform clip x 3 crops), softmax is averaged over views. Exit code 2 if any
video failed (the others are still reported).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from .ray_engine import add_ray_arguments
from .video import VIEW_MODES, VideoError, load_views


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_videoswin.predict",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("videos", nargs="+", type=Path, help="video files (anything PyAV/FFmpeg decodes)")
    p.add_argument("--model", required=True, type=Path, help="a classifier export folder")
    p.add_argument(
        "--views",
        choices=VIEW_MODES,
        default="official",
        help="official: the test protocol's clips x 3 crops; single: one clip, centre crop",
    )
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=4, help="views per forward pass")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="ray: run on Ray Data and write Parquet parts to --out (path, top-k)",
    )
    p.add_argument("--out", type=Path, help="ray: output directory of Parquet parts (resumable)")
    add_ray_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    if args.top_k < 1 or args.batch_size < 1:
        print("error: --top-k and --batch-size must be >= 1", file=sys.stderr)
        return 2
    from tqdm import tqdm

    from .inference import (
        ExportLoadError,
        export_preprocessing,
        load_labels_file,
        load_serving,
        predict_views,
    )

    try:
        serving = load_serving(args.model, ("logits",))
    except ExportLoadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    pre = export_preprocessing(args.model)
    labels = load_labels_file(args.model)
    if args.engine == "ray":
        return _main_ray(args, pre, labels)
    results, failures = [], []
    bar = tqdm(args.videos, unit="video", disable=args.no_progress or len(args.videos) < 2, file=sys.stderr)
    for video in bar:
        try:
            probs = predict_views(serving, load_views(video, pre, args.views), args.batch_size)
        except VideoError as e:
            failures.append({"video": str(video), "error": str(e)})
            print(f"error: {e}", file=sys.stderr)
            continue
        top = np.argsort(-probs)[: args.top_k]
        results.append(
            {
                "video": str(video),
                "top_k": [
                    {
                        "index": int(i),
                        "label": labels[i] if labels else str(int(i)),
                        "probability": float(probs[i]),
                    }
                    for i in top
                ],
            }
        )
    if args.json:
        print(json.dumps({"results": results, "errors": failures}, indent=2))
    else:
        for r in results:
            print(r["video"])
            for t in r["top_k"]:
                print(f"  {t['probability']:.4f}  {t['label']}")
    return 2 if failures else 0


def _main_ray(args: argparse.Namespace, pre, labels: list[str] | None) -> int:
    from .inference import export_variant
    from .ray_engine import RayUnavailableError, predict_with_ray

    if args.out is None or args.num_actors < 1:
        print("error: --engine ray needs --out DIR (Parquet parts) and --num-actors >= 1", file=sys.stderr)
        return 2
    try:
        written, skipped, errors = predict_with_ray(
            [str(v) for v in args.videos],
            args.model,
            args.out,
            export_variant(args.model).name,
            pre,
            labels,
            args.top_k,
            args.views,
            args.batch_size,
            args.num_actors,
            args.address,
        )
    except (RayUnavailableError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"error: {e['error']}", file=sys.stderr)
    summary = {"out": str(args.out), "written": written, "skipped": skipped, "errors": errors}
    print(
        json.dumps(summary, indent=2)
        if args.json
        else f"{written} predicted, {skipped} already done (skipped), {len(errors)} failed -> {args.out}"
    )
    return 2 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
