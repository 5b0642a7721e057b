"""The converter's command line, as a script: ``python porting/convert.py --variant <name> ...``.

The parser and ``main`` live in :mod:`porting.convert_cli` (also the ``videoswin-convert`` command), so
that ``porting.convert`` stays the library function :func:`porting.pipeline.convert`; see ``--help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import from the checkout, not from porting/ itself
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from porting.convert_cli import main

if __name__ == "__main__":
    sys.exit(main())
