"""What every command line shares, the converter's and the apps': exit codes, argument types and
flags, logging set-up with a quiet TensorFlow start-up, error lines.

A floor-0 module (docs/architecture.md): it imports neither TensorFlow nor torch, nor anything above
:mod:`tf_videoswin.config`, so ``porting`` and the apps (:mod:`tf_videoswin.cli`) both build on it.
Commands parse their arguments and set up logging first, then import the heavy libraries (so ``--help``
is instant and TensorFlow's start-up messages can be silenced before TensorFlow loads).

Quiet start-up. Drop TensorFlow's C++ start-up chatter from a command's stderr, keep everything else.

TensorFlow 2.21 logs through absl before absl is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` no longer
silences it: every process prints the oneDNN notice, CUDA probes and ``cpu_feature_guard`` lines
(and more on the first operation). The only reliable filter is at the file descriptor: fd 2 becomes a
pipe, a thread copies what arrives to the real stderr line by line and drops lines in glog's format
(``I0000 00:00:1795567281.658 10921 port.cc:153] ...``) and absl's preamble. Python's own messages,
error lines and tqdm progress bars pass through unchanged.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import math
import os
import re
import sys
import threading
import warnings

from .backend import use_tensorflow
from .config import PRECISIONS, check_attention_precision

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
#: the absl messages TensorFlow 2.21 prints before these apply are filtered by :func:`install_stderr_filter`.
_QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}


def configure_logging(verbose: bool = False) -> None:
    """Log level for the toolkit, and TensorFlow's own output off unless ``verbose``.

    Must run before TensorFlow is imported to silence its C++ messages. Every app and the converter
    write or read TensorFlow formats, so their process runs Keras on TensorFlow whatever
    ``KERAS_BACKEND`` the shell sets (:func:`tf_videoswin.backend.use_tensorflow`).
    """
    use_tensorflow()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if verbose:
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    install_stderr_filter()
    for name in ("tensorflow", "absl", "keras", "h5py", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings(
            "ignore", category=category, module=r"(tensorflow|tf_keras|keras|tensorflow_hub)"
        )
    warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated")


def add_no_verify_argument(parser: argparse.ArgumentParser) -> None:
    """``--no-verify``: load an export without checking its files against the metadata's sha256."""
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="do not check the export's files against the size and sha256 in its metadata "
        "(for exports edited on purpose)",
    )


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


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _int_at_least(text, 0)


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


def error(message: object) -> None:
    """An error line on stderr, as every command prints them."""
    print(f"error: {message}", file=sys.stderr)


#: A glog/absl line (severity I/W/E, date, time, thread, file:line]) or the notices around them.
_CHATTER = re.compile(
    rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog"
    rb"|To enable the following instructions: )"
)
_PREFIXES = (b"WARNING: All log messages before absl", b"To enable the following instructions")


def _may_become_chatter(partial: bytes) -> bool:
    """Whether an unfinished line could still turn out to be chatter (then it waits for its newline)."""
    if partial[:1] in (b"I", b"W", b"E") and (len(partial) == 1 or partial[1:2].isdigit()):
        return True
    return any(p.startswith(partial[: len(p)]) for p in _PREFIXES)


def filter_chunk(buffer: bytes) -> tuple[bytes, bytes]:
    """``(bytes to write, bytes to keep for later)``: whole lines minus chatter, then any partial
    line that cannot be chatter (progress bars are written without a newline)."""
    out = []
    while (end := buffer.find(b"\n")) >= 0:
        line, buffer = buffer[: end + 1], buffer[end + 1 :]
        if not _CHATTER.match(line):
            out.append(line)
    if buffer and not _may_become_chatter(buffer):
        out.append(buffer)
        buffer = b""
    return b"".join(out), buffer


class StderrFilter:
    """fd 2 through :func:`filter_chunk` until :meth:`close` (registered to run at exit)."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._real = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._thread = threading.Thread(target=self._pump, name="stderr-filter", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _pump(self) -> None:
        pending = b""
        while chunk := os.read(self._read_end, 1 << 16):
            text, pending = filter_chunk(pending + chunk)
            if text:
                os.write(self._real, text)
        if pending and not _CHATTER.match(pending):
            os.write(self._real, pending)
        os.close(self._read_end)

    def close(self) -> None:
        """Restore fd 2; the pipe then reaches end of file and the thread writes what is left."""
        if self._real < 0:
            return
        sys.stderr.flush()
        os.dup2(self._real, 2)
        self._thread.join(timeout=2.0)
        os.close(self._real)
        self._real = -1


_active: StderrFilter | None = None


def install_stderr_filter() -> None:
    """Filter this process's stderr, once; only before TensorFlow loads (inside a program that already
    imported it, e.g. a notebook or a test run, nothing changes)."""
    global _active
    if _active is None and "tensorflow" not in sys.modules:
        _active = StderrFilter()
