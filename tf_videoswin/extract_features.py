"""``python -m tf_videoswin.extract_features``, the documented entry point.

The app lives in :mod:`tf_videoswin.cli.extract_features`.
"""

import sys

from .cli.extract_features import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
