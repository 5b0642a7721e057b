"""The converter: upstream checkpoints -> Keras model with proven parity -> exports.

``port_checkpoint`` (:mod:`porting.port`) builds the Keras model with a checkpoint's weights on any Keras
backend, loaded on first use so importing the package stays cheap; :func:`porting.pipeline.convert`
adds the parity proof and writes the export folder (``porting/convert.py`` is its command line).
"""

from __future__ import annotations

from typing import Any

__all__ = ["port_checkpoint"]


def __getattr__(name: str) -> Any:
    if name == "port_checkpoint":
        from .port import port_checkpoint

        return port_checkpoint
    raise AttributeError(f"module 'porting' has no attribute {name!r}")
