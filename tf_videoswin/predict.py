"""``python -m tf_videoswin.predict``, the documented entry point.

The app lives in :mod:`tf_videoswin.cli.predict`.
"""

import sys

from .cli.predict import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
