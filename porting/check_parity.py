"""Re-check an existing export against reference_torch: a parity job to copy into any CI.

    python porting/check_parity.py --variant NAME --export exports/NAME [--checkpoint PATH]

Loads the export's two SavedModels and the checkpoint (default: the cached official download),
runs both on seeded inputs that need padding and window clipping, and compares logits, features
and pooled features. Exit codes: 0 within tolerance, 1 beyond tolerance, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tf_videoswin.variants import VARIANTS, UnknownVariantError, get_variant

EXIT_OK, EXIT_PARITY, EXIT_INPUT = 0, 1, 2


def _shape(text: str) -> tuple[int, ...]:
    shape = tuple(int(v) for v in text.split(","))
    if len(shape) != 5 or shape[1] != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected B,3,T,H,W with positive sizes, got {text!r}")
    return shape


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="check_parity.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="variants: " + ", ".join(VARIANTS),
    )
    p.add_argument("--variant", required=True)
    p.add_argument(
        "--export", required=True, type=Path, help="the variant's export folder (exports/<variant>)"
    )
    p.add_argument(
        "--checkpoint", type=Path, help="the .pth it was converted from (default: cached download)"
    )
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of the checkpoint")
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument(
        "--shape",
        type=_shape,
        action="append",
        help="B,3,T,H,W of a seeded input; repeatable (default: 1,3,18,70,90 and 2,3,10,64,96)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = get_variant(args.variant)
    except UnknownVariantError as e:
        parser.error(str(e))
    shapes = args.shape or [(1, 3, 18, 70, 90), (2, 3, 10, 64, 96)]

    from porting.checks import CheckpointMismatchError
    from porting.conversion import read_metadata
    from porting.download import default_cache_dir, sha256_file
    from reference_torch.checkpoint import CheckpointError

    for kind in ("classifier", "feature_extractor"):
        if not (args.export / kind / "saved_model.pb").is_file():
            print(
                f"error: {args.export / kind} is not a SavedModel; expected the folder written by convert.py",
                file=sys.stderr,
            )
            return EXIT_INPUT
    checkpoint = args.checkpoint or (args.cache_dir or default_cache_dir()) / f"{cfg.name}.pth"
    if not checkpoint.is_file():
        print(f"error: checkpoint not found: {checkpoint} (pass --checkpoint)", file=sys.stderr)
        return EXIT_INPUT
    meta = read_metadata(args.export) or {}
    if meta.get("variant") not in (None, cfg.name):
        print(f"error: {args.export} is an export of {meta['variant']}, not {cfg.name}", file=sys.stderr)
        return EXIT_INPUT
    recorded = meta.get("upstream", {}).get("checkpoint_sha256")
    if recorded and recorded != sha256_file(checkpoint):
        print(
            f"warning: {checkpoint} is not the checkpoint this export was made from (sha256 differs)",
            file=sys.stderr,
        )

    try:
        report = check_export(cfg, args.export, checkpoint, shapes, args.tolerance, args.trust_checkpoint)
    except (CheckpointError, CheckpointMismatchError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    print(report.format())
    if not report.ok:
        row = report.first_failure
        print(f"FAILED: {row.name} differs by {row.max_abs:.3e} (> {row.tolerance:g})", file=sys.stderr)
        return EXIT_PARITY
    print(f"parity ok for {cfg.name} ({len(shapes)} input shape(s), tolerance {args.tolerance:g})")
    return EXIT_OK


def check_export(cfg, export: Path, checkpoint: Path, shapes, tolerance: float, trust: bool):
    """One report with a row per output per input shape."""
    import tensorflow as tf
    import torch

    from porting import parity
    from porting.conversion import load_and_check
    from reference_torch import build_recognizer

    state_dict = load_and_check(checkpoint, cfg, trust)
    reference = build_recognizer(cfg)
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()}, strict=True)
    classifier = tf.saved_model.load(str(export / "classifier")).signatures["serving_default"]
    features = tf.saved_model.load(str(export / "feature_extractor")).signatures["serving_default"]
    rows = []
    for i, shape in enumerate(shapes):
        video = parity.parity_input(shape, seed=i)
        expected = parity.torch_outputs(reference, video)
        fe = features(video=tf.constant(video))
        actual = {
            "logits": classifier(video=tf.constant(video))["logits"].numpy(),
            "features": fe["features"].numpy(),
            "pooled": fe["pooled"].numpy(),
        }
        sub = parity.compare(expected, actual, shape, tolerance)
        rows += [
            parity.ParityRow(
                f"{r.name}@{'x'.join(map(str, shape))}", r.shape, r.max_abs, r.mean_abs, r.tolerance
            )
            for r in sub.rows
        ]
    return parity.ParityReport(tuple(rows), tuple(shapes[0]))


if __name__ == "__main__":
    sys.exit(main())
