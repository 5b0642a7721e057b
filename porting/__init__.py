"""The converter: upstream checkpoints -> Keras model with proven parity -> exports.

``port_checkpoint`` (:mod:`porting.port`) builds the Keras model with a checkpoint's weights on any Keras
backend; ``convert`` (:mod:`porting.pipeline`) adds the parity proof and writes the export folder that an
``ExportPlan`` (:mod:`porting.export_plan`) describes. All three load on first use, so importing the package
stays cheap. The command line is the script ``porting/convert.py``, whose code is :mod:`porting.convert_cli`;
nothing imports that script as a module, so ``porting.convert`` stays the function.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExportPlan", "convert", "port_checkpoint"]

_LAZY = {"port_checkpoint": ".port", "convert": ".pipeline", "ExportPlan": ".export_plan"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'porting' has no attribute {name!r}")
