"""Convert an official Video Swin checkpoint to TensorFlow SavedModels, with a parity check.

    python porting/convert.py --variant swin_tiny_patch244_window877_kinetics400_1k
    python porting/convert.py --variant <name> --checkpoint path/to/<name>.pth --output-dir exports

Without --checkpoint the official checkpoint is downloaded into the cache directory
($VIDEOSWIN_CACHE or ~/.cache/tf_videoswin/checkpoints). Exports are written only when the
ported model matches the PyTorch reference; a failed run leaves no partial export behind.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tf_videoswin.variants import VARIANTS, UnknownVariantError, get_variant

EXIT_OK, EXIT_PARITY, EXIT_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="convert.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="variants: "
        + ", ".join(VARIANTS)
        + "\nexit codes: 0 ok, 1 parity failure, 2 bad input or I/O error",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--variant", help="upstream variant name (see the list below)")
    target.add_argument(
        "--all",
        metavar="CHECKPOINT_DIR",
        type=Path,
        help="convert every <variant>.pth found in CHECKPOINT_DIR and print a summary table",
    )
    p.add_argument("--checkpoint", type=Path, help="local .pth file (default: download the official one)")
    p.add_argument("--output-dir", type=Path, default=Path("exports"), help="export root (default: exports)")
    p.add_argument(
        "--cache-dir", type=Path, help="download cache (default: $VIDEOSWIN_CACHE or ~/.cache/...)"
    )
    p.add_argument("--sha256", help="expected sha256 of the checkpoint; a mismatch is an error")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow full unpickling (weights_only=False) for files that need it; only for trusted files",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing export of this variant")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max-abs parity tolerance (default: 1e-4)")
    p.add_argument(
        "--parity-shape",
        type=lambda s: tuple(int(v) for v in s.split(",")),
        default=(1, 3, 18, 70, 90),
        help="B,3,T,H,W of the seeded parity input (default: 1,3,18,70,90: padding and clipping)",
    )
    p.add_argument("--no-export", action="store_true", help="check parity only, write nothing")
    p.add_argument("--no-progress", action="store_true", help="no download progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log every step")
    return p


def _resolve_checkpoint(args: argparse.Namespace, name: str) -> tuple[Path, str | None]:
    """A local checkpoint path and its sha256 when known (downloads record it)."""
    from porting.download import fetch_checkpoint, sha256_file

    if args.checkpoint is not None:
        if not args.checkpoint.is_file():
            raise FileNotFoundError(f"checkpoint not found: {args.checkpoint}")
        digest = sha256_file(args.checkpoint)
        if args.sha256 and digest.lower() != args.sha256.lower():
            raise ValueError(f"sha256 mismatch for {args.checkpoint}: expected {args.sha256}, got {digest}")
        return args.checkpoint, digest
    url = get_variant(name).url
    print(f"downloading {url}", file=sys.stderr)
    return fetch_checkpoint(url, args.cache_dir, args.sha256, progress=not args.no_progress)


def _convert_one(args: argparse.Namespace, name: str, checkpoint: Path | None = None):
    from porting.conversion import convert

    cfg = get_variant(name)
    if checkpoint is None:
        checkpoint, digest = _resolve_checkpoint(args, name)
    else:
        digest = None
    print(f"converting {name} from {checkpoint}")
    return convert(
        cfg,
        checkpoint,
        args.output_dir,
        checkpoint_sha256=digest,
        trust_checkpoint=args.trust_checkpoint,
        parity_shape=args.parity_shape,
        tolerance=args.tolerance,
        overwrite=args.overwrite,
        export=not args.no_export,
    )


def _report(result) -> None:
    if result.skipped:
        digest = result.checkpoint_sha256[:16]
        print(f"{result.export_dir} is up to date (checkpoint sha256 {digest}...)")
        return
    port = result.port
    print(f"port: {len(port.assigned)} variables assigned, {len(port.ignored)} derived keys checked")
    print(f"parity vs reference_torch on {list(result.parity.input_shape)}:")
    print(result.parity.format())
    if result.export_dir is not None:
        rows = result.reload_max_abs.items()
        same = max((v for k, v in rows if k.endswith(f"@{result.parity.input_shape_name}")), default=0.0)
        other = max((v for k, v in rows if not k.endswith(f"@{result.parity.input_shape_name}")), default=0.0)
        print(
            f"reloaded SavedModels reproduce the Keras model (max abs {same:.2e}) and match reference_torch "
            f"at an untraced shape (max abs {other:.2e})"
        )
        print(f"exported {result.export_dir}/classifier and {result.export_dir}/feature_extractor")
    print(f"done in {result.seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if len(args.parity_shape) != 5 or args.parity_shape[1] != 3 or min(args.parity_shape) < 1:
        parser.error(f"--parity-shape must be B,3,T,H,W with positive sizes, got {args.parity_shape}")
    if args.variant is not None:
        try:
            get_variant(args.variant)
        except UnknownVariantError as e:
            parser.error(str(e))
    if args.all is not None and args.checkpoint is not None:
        parser.error("--checkpoint goes with --variant; --all reads <variant>.pth files from a directory")

    from porting.checks import CheckpointMismatchError
    from porting.conversion import ExportCheckError, ParityError
    from porting.download import DownloadError
    from porting.engine import PortingError
    from reference_torch.checkpoint import CheckpointError

    input_errors = (
        CheckpointError,
        CheckpointMismatchError,
        PortingError,
        DownloadError,
        FileNotFoundError,
        FileExistsError,
        ValueError,
        OSError,
    )
    if args.variant is not None:
        try:
            _report(_convert_one(args, args.variant))
        except (ParityError, ExportCheckError) as e:
            print(f"error: {e}\nnothing was exported.", file=sys.stderr)
            return EXIT_PARITY
        except input_errors as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_INPUT
        return EXIT_OK
    return _convert_all(args, input_errors)


def _convert_all(args: argparse.Namespace, input_errors: tuple) -> int:
    from porting.conversion import ParityError

    if not args.all.is_dir():
        print(f"error: not a directory: {args.all}", file=sys.stderr)
        return EXIT_INPUT
    found = [(name, args.all / f"{name}.pth") for name in VARIANTS if (args.all / f"{name}.pth").is_file()]
    if not found:
        print(
            f"error: no <variant>.pth files in {args.all}; expected names like {next(iter(VARIANTS))}.pth",
            file=sys.stderr,
        )
        return EXIT_INPUT
    rows, code = [], EXIT_OK
    for name, path in found:
        try:
            result = _convert_one(args, name, path)
            _report(result)
            status = "up to date" if result.skipped else "ok"
            worst = "" if result.skipped else f"{max(r.max_abs for r in result.parity.rows):.2e}"
            rows.append((name, status, worst, f"{result.seconds:.1f}"))
        except ParityError as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            rows.append((name, "PARITY FAILED", f"{e.report.first_failure.max_abs:.2e}", ""))
            code = max(code, EXIT_PARITY)
        except input_errors as e:
            print(f"error: {name}: {e}", file=sys.stderr)
            rows.append((name, "ERROR", "", ""))
            code = EXIT_INPUT
    print(f"\n{'variant':<46} {'status':<14} {'max_abs':>9} {'seconds':>8}")
    for name, status, worst, secs in rows:
        print(f"{name:<46} {status:<14} {worst:>9} {secs:>8}")
    return code


if __name__ == "__main__":
    sys.exit(main())
