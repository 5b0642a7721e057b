"""``python -m tf_videoswin.evaluate``: see :mod:`tf_videoswin.cli.evaluate`."""

import sys

from .cli.evaluate import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
