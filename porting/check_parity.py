"""Re-check an existing export against reference_torch: a parity job to copy into any CI.

    python porting/check_parity.py --export exports/NAME [--variant NAME] [--checkpoint PATH]

Loads the export's two SavedModels and the checkpoint (default: the cached upstream download),
runs both on seeded inputs that need padding and window clipping, and compares logits, features
and pooled features. The variant comes from the export's metadata (--variant, if given, must agree).
Exit codes: 0 within tolerance, 1 beyond tolerance, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import from the checkout, not from porting/ itself
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from porting.parity import DEFAULT_PARITY_SHAPE, SECOND_PARITY_SHAPE
from tf_videoswin.console import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_OK,
    add_no_verify_argument,
    add_verbose_argument,
    configure_logging,
    error,
    parse_shape,
    positive_float,
)
from tf_videoswin.metrics import DEFAULT_TOLERANCE
from tf_videoswin.variants import VARIANTS, UnknownVariantError, get_variant

DEFAULT_SHAPES = (DEFAULT_PARITY_SHAPE, SECOND_PARITY_SHAPE)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="check_parity.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="variants: " + ", ".join(VARIANTS) + "\n" + EXIT_CODES_HELP,
    )
    p.add_argument("--export", required=True, type=Path, help="the export folder (exports/<variant>)")
    p.add_argument("--variant", help="the variant the export must be (default: read from its metadata)")
    p.add_argument(
        "--checkpoint", type=Path, help="the .pth it was converted from (default: cached download)"
    )
    p.add_argument("--cache-dir", type=Path)
    p.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of the checkpoint")
    p.add_argument("--tolerance", type=positive_float, default=DEFAULT_TOLERANCE)
    p.add_argument(
        "--shape",
        type=parse_shape,
        action="append",
        help="B,3,T,H,W of a seeded input; repeatable (default: "
        + " and ".join(",".join(map(str, s)) for s in DEFAULT_SHAPES)
        + ")",
    )
    add_no_verify_argument(p)
    add_verbose_argument(p)
    return p


def main(argv: list[str] | None = None) -> int:
    """Compare an export's SavedModels with reference_torch on seeded inputs.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        The exit code: 0 within tolerance, 1 beyond it, 2 bad input.
    Example:
        >>> main(["--export", "exports/swin_tiny_patch244_window877_kinetics400_1k"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.variant is not None:
        try:
            get_variant(args.variant)
        except UnknownVariantError as e:
            parser.error(str(e))
    shapes = args.shape or list(DEFAULT_SHAPES)

    from porting.download import default_cache_dir, sha256_file
    from tf_videoswin.errors import VideoSwinError
    from tf_videoswin.export.metadata import EXPORT_KINDS, ExportMetadata
    from tf_videoswin.export.verify import verify_export

    for kind in EXPORT_KINDS:
        if not (args.export / kind / "saved_model.pb").is_file():
            error(f"{args.export / kind} is not a SavedModel; expected the folder written by convert.py")
            return EXIT_INPUT
    try:
        meta = ExportMetadata.read(args.export)
        cfg = get_variant(meta.variant)
    except VideoSwinError as e:
        error(e)
        return EXIT_INPUT
    if args.variant not in (None, cfg.name):
        error(f"{args.export} is an export of {cfg.name}, not {args.variant}")
        return EXIT_INPUT
    try:  # the SavedModels compared are the files the metadata records
        for kind in EXPORT_KINDS:
            verify_export(args.export / kind, verify=not args.no_verify)
    except VideoSwinError as e:
        error(e)
        return EXIT_INPUT
    checkpoint = args.checkpoint or (args.cache_dir or default_cache_dir()) / Path(cfg.url).name
    if not checkpoint.is_file():
        error(f"checkpoint not found: {checkpoint} (pass --checkpoint)")
        return EXIT_INPUT
    if meta.source.get("checkpoint_sha256") not in (None, sha256_file(checkpoint)):
        print(
            f"warning: {checkpoint} is not the checkpoint this export was made from (sha256 differs)",
            file=sys.stderr,
        )
    try:
        report = check_export(cfg, args.export, checkpoint, shapes, args.tolerance, args.trust_checkpoint)
    except (VideoSwinError, OSError, ValueError) as e:
        error(e)
        return EXIT_INPUT
    print(report.format())
    if not report.ok:
        row = report.first_failure
        print(f"FAILED: {row.name} differs by {row.max_abs:.3e} (> {row.tolerance:g})", file=sys.stderr)
        return EXIT_FAILURE
    print(f"parity ok for {cfg.name} ({len(shapes)} input shape(s), tolerance {args.tolerance:g})")
    return EXIT_OK


def check_export(cfg, export: Path, checkpoint: Path, shapes, tolerance: float, trust: bool):
    """One report with a row per output per input shape."""
    import tensorflow as tf

    from porting import parity
    from porting.pipeline import port_checkpoint
    from tf_videoswin.metrics import ParityReport, ParityRow, compare

    reference = port_checkpoint(cfg, checkpoint, trust_checkpoint=trust).reference
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
        sub = compare(expected, actual, shape, tolerance)
        rows += [
            ParityRow(f"{r.name}@{'x'.join(map(str, shape))}", r.shape, r.max_abs, r.mean_abs, r.tolerance)
            for r in sub.rows
        ]
    return ParityReport(tuple(rows), tuple(shapes[0]))


if __name__ == "__main__":
    sys.exit(main())
