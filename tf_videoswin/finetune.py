"""``python -m tf_videoswin.finetune``: see :mod:`tf_videoswin.cli.finetune`."""

import sys

from .cli.finetune import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
