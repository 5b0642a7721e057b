"""Convert a Video Swin checkpoint to TensorFlow (SavedModels, optionally Keras and deployment files),
with a parity check.

    python porting/convert.py --variant swin_tiny_patch244_window877_kinetics400_1k
    python porting/convert.py --variant <name> --checkpoint path/to/<name>.pth --output-dir exports
    python porting/convert.py --variant <name> --formats savedmodel,keras,weights
    python porting/convert.py --variant <name> --formats tflite,onnx,openvino --deploy-shape 1,3,32,224,224

Variants are the six official checkpoints and the six mmaction2 1.x ones (Swin-L among them), by their
upstream names. Without --checkpoint the upstream checkpoint is downloaded into the cache directory
($VIDEOSWIN_CACHE or ~/.cache/tf_videoswin/checkpoints) and checked against its published sha256 (or,
for mmaction2, the published sha256 prefix in its file name). Exports are written only when the
ported model matches the PyTorch reference; a failed run leaves no partial export behind.
"""
# The command line of porting/convert.py and of ``videoswin-convert``, apart from that script so that
# ``porting.convert`` stays the library function. From Python: ``porting.convert(cfg, checkpoint, plan=...)``.

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from porting.parity import DEFAULT_PARITY_SHAPE
from tf_videoswin.config import PRECISIONS as MODEL_PRECISIONS
from tf_videoswin.console import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_OK,
    add_attention_precision_argument,
    add_verbose_argument,
    check_attention_precision_argument,
    configure_logging,
    error,
    outcome_code,
    parse_shape,
    positive_float,
)
from tf_videoswin.export.deploy.targets import (
    DEFAULT_DEPLOY_SHAPE,
    DEPLOY_FORMATS,
    DEPLOY_PRECISIONS,
    check_tflite_precisions,
)
from tf_videoswin.metrics import DEFAULT_TOLERANCE
from tf_videoswin.output_lock import recover_target
from tf_videoswin.variants import VARIANTS, UnknownVariantError, get_variant

FORMATS_HELP = (
    "comma-separated files to write: savedmodel (always written), keras (<variant>.keras), "
    "weights (<variant>.weights.h5), preset (a keras-hub preset folder preset/), "
    "tflite (LiteRT classifier and feature_extractor at --deploy-shape in "
    "each of --tflite-precisions), onnx (all outputs, dynamic batch), openvino (IR .xml/.bin, f32); "
    "deployment formats need pip install 'tf-videoswin[deploy]'; default: savedmodel"
)


def parse_tflite_precisions(text: str) -> tuple[str, ...]:
    """argparse type: ``"float32,int8"`` -> ``("float32", "int8")``, some of the TFLite precisions."""
    try:
        return check_tflite_precisions([p.strip() for p in text.split(",") if p.strip()])
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="convert.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="variants: " + ", ".join(VARIANTS) + "\n" + EXIT_CODES_HELP,
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--variant", help="upstream variant name (see the list below)")
    target.add_argument(
        "--all",
        metavar="CHECKPOINT_DIR",
        type=Path,
        help="convert every <variant>.pth (or upstream file name, e.g. <variant>_<date>-<sha>.pth) found in "
        "CHECKPOINT_DIR and print a summary table",
    )
    p.add_argument("--checkpoint", type=Path, help="local .pth file (default: download the upstream one)")
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
    p.add_argument("--formats", default="savedmodel", help=FORMATS_HELP)
    p.add_argument("--overwrite", action="store_true", help="replace an existing export of this variant")
    p.add_argument(
        "--tolerance",
        type=positive_float,
        default=DEFAULT_TOLERANCE,
        help=f"max-abs parity tolerance (default: {DEFAULT_TOLERANCE:g})",
    )
    p.add_argument(
        "--parity-shape",
        type=parse_shape,
        default=DEFAULT_PARITY_SHAPE,
        help=f"B,3,T,H,W of the seeded parity input (default: {','.join(map(str, DEFAULT_PARITY_SHAPE))}: "
        "padding and clipping)",
    )
    p.add_argument(
        "--deploy-shape",
        type=parse_shape,
        help="B,3,T,H,W clip shape of the tflite/onnx/openvino files (TFLite: fixed; ONNX and OpenVINO: "
        f"fixed T,H,W, any batch; default: {','.join(map(str, DEFAULT_DEPLOY_SHAPE))})",
    )
    p.add_argument(
        "--tflite-precisions",
        type=parse_tflite_precisions,
        metavar="LIST",
        help="comma-separated precisions of the tflite files: float32 (exact, proven against the reference), "
        "float16 and int8 (weights only, lossy: their drift is recorded); default: "
        + ",".join(DEPLOY_PRECISIONS["tflite"]),
    )
    p.add_argument(
        "--precision",
        choices=MODEL_PRECISIONS,
        default="float32",
        help="what the SavedModels and Keras files compute in (default float32, the exact path). bfloat16 "
        "is faster on CPUs with bf16 arithmetic, float16 for GPUs; both keep softmax, LayerNorm "
        "statistics, bias, mask and logits in float32 (see --attention-precision), and their measured drift "
        "from float32 is recorded",
    )
    add_attention_precision_argument(
        p,
        "the dtype of the attention logits (with bias and mask) and softmax: float32 (default), or the "
        "same as --precision (faster where the CPU has bf16 arithmetic, see docs/performance.md; oneDNN "
        "still accumulates and normalises in float32, but the logits are rounded; the measured drift is "
        "recorded)",
    )
    p.add_argument("--no-export", action="store_true", help="check parity only, write nothing")
    p.add_argument("--no-progress", action="store_true", help="no download progress bar")
    add_verbose_argument(p)
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
    cfg = get_variant(name)
    print(f"downloading {cfg.url}", file=sys.stderr)
    return fetch_checkpoint(
        cfg.url,
        args.cache_dir,
        args.sha256 or cfg.checkpoint_sha256,
        not args.no_progress,
        expected_sha256_prefix=cfg.checkpoint_sha256_prefix,
    )


def _convert_one(args: argparse.Namespace, name: str, checkpoint: Path | None = None):
    from porting.export_plan import ExportPlan
    from porting.pipeline import convert

    cfg = get_variant(name)
    if checkpoint is None:
        checkpoint, digest = _resolve_checkpoint(args, name)
    else:
        digest = None
    if not args.no_export:
        recover_target(args.output_dir / name)  # a killed run's temporaries, even if nothing is written now
    print(f"converting {name} from {checkpoint}", flush=True)
    plan = ExportPlan(
        formats=args.formats,
        deploy_shape=args.deploy_shape,
        precision=args.precision,
        attention_precision=args.attention_precision,
        tflite_precisions=args.tflite_precisions,
        overwrite=args.overwrite,
    )
    return convert(
        cfg,
        checkpoint,
        args.output_dir,
        plan,
        checkpoint_sha256=digest,
        trust_checkpoint=args.trust_checkpoint,
        parity_shape=args.parity_shape,
        tolerance=args.tolerance,
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
        for f in result.files:
            print(f"  {result.export_dir / f.path}  [{f.format}, {f.size_bytes / 1e6:.1f} MB]{_proof(f)}")
        if result.precision != "float32":
            d = result.precision_drift
            logits = result.attention_precision
            attention = "" if logits == "float32" else f", attention logits in {logits}"
            print(
                f"{result.precision} SavedModels{attention} (lossy, not exact): drift from float32 over "
                f"{d['inputs']} seeded inputs: pooled cosine >= {d['pooled_cosine_min']:.6f}, logits max abs "
                f"{d['logits_max_abs']:.2e}, top-5 overlap {d['logits_top5_overlap']:.2f}"
            )
    print(f"done in {result.seconds:.1f} s")


def _proof(f) -> str:
    """How a deployment file was proven, in a few words."""
    if "vs_reference_max_abs" not in f.parity or f.format not in ("tflite", "onnx", "openvino"):
        return ""
    worst = f.parity["vs_reference_max_abs"]
    if f.parity.get("exact"):
        return f" {f.precision}: max abs vs reference_torch {worst:.2e} ({', '.join(f.details['runtimes'])})"
    drift = f.parity.get("drift", {})
    extra = "".join(
        f", {k} {drift[k]:.4f}" for k in ("pooled_cosine_min", "logits_top5_overlap") if k in drift
    )
    return f" {f.precision} (lossy): max abs vs reference_torch {worst:.2e}{extra}"


def check_deploy_flags(args: argparse.Namespace) -> str | None:
    """A deployment flag given without the format it shapes, as a message (it would change nothing);
    else ``None``, with the flags' defaults filled in."""
    deploy = [f for f in args.formats if f in DEPLOY_FORMATS]
    if args.deploy_shape is not None and not deploy:
        return (
            "--deploy-shape sets the clip shape of the tflite/onnx/openvino files; add one of them to "
            "--formats, or drop --deploy-shape"
        )
    if args.tflite_precisions is not None and "tflite" not in args.formats:
        return "--tflite-precisions applies to tflite files; add tflite to --formats, or drop it"
    if args.deploy_shape is None:
        args.deploy_shape = DEFAULT_DEPLOY_SHAPE
    if args.tflite_precisions is None:
        args.tflite_precisions = DEPLOY_PRECISIONS["tflite"]
    return None


def main(argv: list[str] | None = None) -> int:
    """Convert one variant (``--variant``) or a directory of checkpoints (``--all``).

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        The exit code (docs/exit-codes.md): 0 ok, 1 parity failure (nothing exported), 2 bad input or
        I/O error; with ``--all``, 3 when some checkpoints failed and the others were converted.
    Example:
        >>> main(["--variant", "swin_tiny_patch244_window877_kinetics400_1k", "--checkpoint", "tiny.pth"])
        ... # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if args.variant is not None:
        try:
            get_variant(args.variant)
        except UnknownVariantError as e:
            parser.error(str(e))
    if args.all is not None and args.checkpoint is not None:
        parser.error("--checkpoint goes with --variant; --all reads <variant>.pth files from a directory")
    check_attention_precision_argument(parser, args)
    from porting.export_plan import normalize_formats

    try:
        args.formats = normalize_formats(args.formats)
    except ValueError as e:
        parser.error(f"--formats: {e}")
    problem = check_deploy_flags(args)
    if problem:
        parser.error(problem)

    from tf_videoswin.errors import ExportCheckError, ParityError, VideoSwinError

    input_errors = (VideoSwinError, FileNotFoundError, FileExistsError, ValueError, OSError)
    if args.variant is not None:
        try:
            _report(_convert_one(args, args.variant))
        except (ParityError, ExportCheckError) as e:
            error(f"{e}\nnothing was exported.")
            return EXIT_FAILURE
        except input_errors as e:
            error(e)
            return EXIT_INPUT
        return EXIT_OK
    return _convert_all(args, input_errors)


def _convert_all(args: argparse.Namespace, input_errors: tuple) -> int:
    from tf_videoswin.errors import ParityError

    if not args.all.is_dir():
        error(f"not a directory: {args.all}")
        return EXIT_INPUT
    found = [(name, path) for name in VARIANTS if (path := _checkpoint_in(args.all, name)) is not None]
    if not found:
        error(f"no <variant>.pth files in {args.all}; expected names like {next(iter(VARIANTS))}.pth")
        return EXIT_INPUT
    rows, parity_failed, failed = [], False, 0
    for name, path in found:
        try:
            result = _convert_one(args, name, path)
            _report(result)
            status = "up to date" if result.skipped else "ok"
            worst = "" if result.skipped else f"{max(r.max_abs for r in result.parity.rows):.2e}"
            rows.append((name, status, worst, f"{result.seconds:.1f}"))
        except ParityError as e:
            error(f"{name}: {e}")
            rows.append((name, "PARITY FAILED", f"{e.report.first_failure.max_abs:.2e}", ""))
            parity_failed = True
        except input_errors as e:
            error(f"{name}: {e}")
            rows.append((name, "ERROR", "", ""))
            failed += 1
    width = max(len("variant"), *(len(r[0]) for r in rows))
    print(f"\n{'variant':<{width}} {'status':<14} {'max_abs':>9} {'seconds':>8}")
    for name, status, worst, secs in rows:
        print(f"{name:<{width}} {status:<14} {worst:>9} {secs:>8}")
    # A parity failure outranks the rest: it is the one result that says a port is wrong.
    return EXIT_FAILURE if parity_failed else outcome_code(len(rows) - failed, failed)


def _checkpoint_in(directory: Path, name: str) -> Path | None:
    """``<name>.pth`` in ``directory``, else the file name of the variant's upstream URL, else ``None``."""
    for file_name in (f"{name}.pth", Path(get_variant(name).url).name):
        if (directory / file_name).is_file():
            return directory / file_name
    return None


if __name__ == "__main__":
    sys.exit(main())
