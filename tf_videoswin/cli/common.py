"""What the apps share: :mod:`tf_videoswin.console` (exit codes, argument types and flags, logging
set-up, error lines; the converter's command lines use it too) and the apps' own Ray flags.

Importing this module imports neither TensorFlow nor torch.
"""

from __future__ import annotations

import argparse

from ..console import (
    EXIT_CODES_HELP,
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    add_attention_precision_argument,
    add_no_verify_argument,
    add_verbose_argument,
    check_attention_precision_argument,
    configure_logging,
    error,
    fraction,
    non_negative_float,
    non_negative_int,
    outcome_code,
    parse_shape,
    positive_float,
    positive_int,
)

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_PARTIAL",
    "add_attention_precision_argument",
    "add_no_verify_argument",
    "add_ray_arguments",
    "add_verbose_argument",
    "check_attention_precision_argument",
    "configure_logging",
    "error",
    "fraction",
    "non_negative_float",
    "non_negative_int",
    "outcome_code",
    "parse_shape",
    "positive_float",
    "positive_int",
]


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--address`` and ``--num-actors``, shared by the apps that offer ``--engine ray``."""
    parser.add_argument(
        "--address", help="ray: address of an existing cluster (default: a local Ray runtime)"
    )
    parser.add_argument(
        "--num-actors", type=positive_int, default=2, help="ray: model actors, one loaded export each"
    )
