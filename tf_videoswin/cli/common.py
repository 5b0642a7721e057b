"""What every command-line app shares: exit codes, argument types and flags, quiet start-up, errors.

Importing this module imports neither TensorFlow nor torch: the apps parse their arguments and set up
logging first, then import the heavy libraries (so ``--help`` is instant and TensorFlow's start-up
messages can be silenced before TensorFlow loads).
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import warnings

from ..config import PRECISIONS, check_attention_precision
from . import quiet_stderr

#: Exit codes of every app, one rule (docs/exit-codes.md): every input processed; a failed check
#: (parity); bad input, an I/O error, or nothing processed (no input found, every input failed);
#: some inputs failed and the others were kept. 130: interrupted (Ctrl-C).
EXIT_OK, EXIT_FAILURE, EXIT_INPUT, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
EXIT_CODES_HELP = (
    "exit codes: 0 every input processed, 1 parity failure, 2 bad input, I/O error or nothing "
    "processed (no input found, all failed), 3 some inputs failed (the others kept), 130 interrupted; "
    "see docs/exit-codes.md"
)


def outcome_code(processed: int, failed: int) -> int:
    """The exit code of a run over many inputs (videos, checkpoints).

    ``processed`` counts the inputs whose output exists, including those kept from an earlier run;
    ``failed`` those that failed in this run. Nothing processed (no input, or all failed) is exit 2,
    so a script never takes an empty result for success.
    """
    if processed == 0:
        return EXIT_INPUT
    return EXIT_PARTIAL if failed else EXIT_OK


#: Environment variables for TensorFlow's own log levels (set only where the user has not set them);
#: the absl messages TensorFlow 2.21 prints before these apply are filtered by :mod:`.quiet_stderr`.
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}


def configure_logging(verbose: bool = False) -> None:
    """Log level for the toolkit, and TensorFlow's own output off unless ``verbose``.

    Must run before TensorFlow is imported to silence its C++ messages.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if verbose:
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    quiet_stderr.install()
    for name in ("tensorflow", "absl", "keras", "h5py", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings(
            "ignore", category=category, module=r"(tensorflow|tf_keras|keras|tensorflow_hub)"
        )
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log every step, and show TensorFlow's start-up messages"
    )


def parse_shape(text: str) -> tuple[int, int, int, int, int]:
    """``"B,3,T,H,W"`` -> a clip shape (argparse type): five positive integers, 3 channels."""
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected B,3,T,H,W as five integers, got {text!r}") from None
    if len(shape) != 5:
        raise argparse.ArgumentTypeError(f"expected B,3,T,H,W as five integers, got {len(shape)} in {text!r}")
    if shape[1] != 3:
        raise argparse.ArgumentTypeError(
            f"expected B,3,T,H,W with 3 (RGB) channels at the second place, got {shape[1]} in {text!r}"
        )
    if min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected B,3,T,H,W with positive sizes and 3 channels, got {text!r}"
        )
    return shape  # type: ignore[return-value]


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _finite_float(text: str) -> float:
    """A finite number: NaN and infinities compare false or true to every bound, so they never pass
    a range check by accident."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (tolerances, rates, frame rates)."""
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def fraction(text: str) -> float:
    """argparse type: a finite number in [0, 1]."""
    value = _finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a value in [0, 1], got {text}")
    return value


def add_attention_precision_argument(
    parser: argparse.ArgumentParser,
    help: str = "the dtype of the attention logits and softmax: float32 (default) or the same as --precision",
) -> None:
    """``--attention-precision``, checked against ``--precision`` by
    :func:`check_attention_precision_argument`."""
    parser.add_argument("--attention-precision", choices=PRECISIONS, default="float32", help=help)


def check_attention_precision_argument(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2 with the parser's usage unless ``args.attention_precision`` suits ``args.precision``."""
    try:
        check_attention_precision(args.attention_precision, args.precision)
    except ValueError as e:
        parser.error(f"--attention-precision: {e}")


def add_no_verify_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-verify``: load an export without checking its files against the metadata's sha256."""
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not check the export's files against the size and sha256 in its metadata "
        "(for exports edited on purpose)",
    )


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--address`` and ``--num-actors``, shared by the apps that offer ``--engine ray``."""
    parser.add_argument(
        "--address", help="ray: address of an existing cluster (default: a local Ray runtime)"
    )
    parser.add_argument(
        "--num-actors", type=positive_int, default=2, help="ray: model actors, one loaded export each"
    )


def error(message: object) -> None:
    """An error line on stderr, as every app prints them."""
    print(f"error: {message}", file=sys.stderr)
