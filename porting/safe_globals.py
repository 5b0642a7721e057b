"""The few Python globals that checkpoints may pickle besides tensors, allowed while loading them.

``torch.load(weights_only=True)`` refuses every global outside torch's own allow-list. mmaction2 1.x
checkpoints are written by mmengine, whose ``meta`` and runtime records (``message_hub``) can hold numpy
scalars, dtypes and arrays and mmengine's ``HistoryBuffer`` (mmengine issue 1655; mmengine's answer is a
full unpickle, ``weights_only=False``). This module allows exactly those, and only while a checkpoint is
read (:func:`allowed_while_loading`), never process-wide:

- numpy scalars, dtypes and arrays of plain (bool, integer, float, complex, str, bytes) types, under the
  names numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) pickle them with. Rebuilding them runs numpy's
  own constructors on bytes and strings: no user code.
- ``mmengine.logging.history_buffer.HistoryBuffer`` is read as an :class:`InertRecord`: the pickled
  attributes in a plain dict, without importing mmengine or running any of its code.

Anything else (a config class, a function, an arbitrary object) is still refused; the converter then
names the global and points to ``--trust-checkpoint``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

#: mmengine classes read as inert records, by the module path they are pickled under.
INERT_CLASSES = ("mmengine.logging.history_buffer.HistoryBuffer",)
#: numpy dtype characters of the plain types allowed (bool, ints, uints, floats, complex, str, bytes).
_PLAIN_DTYPES = "?bhilqBHILQefdgFDGUS"


class InertRecord:
    """A pickled object of a class not imported here: its state as data, no behaviour.

    ``pickled_as`` is the class path the checkpoint named; ``state`` what the pickle stored
    (usually the instance ``__dict__``). The converter never reads it; it only has to load.
    """

    pickled_as = "?"

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        keys = sorted(self.state) if isinstance(getattr(self, "state", None), dict) else []
        return f"<InertRecord of {self.pickled_as} {keys}>"


def _inert_class(path: str) -> type[InertRecord]:
    return type(path.rsplit(".", 1)[1], (InertRecord,), {"pickled_as": path, "__module__": __name__})


@functools.cache
def safe_globals() -> tuple[tuple[Callable, str], ...]:
    """The entries for ``torch.serialization.safe_globals``: ``(callable, name it is pickled under)``."""
    import numpy as np

    core = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray  # numpy 2 / numpy 1
    entries: list[tuple[Callable, str]] = []
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        entries += [(core.scalar, f"{module}.scalar"), (core._reconstruct, f"{module}._reconstruct")]
    entries += [(np.dtype, "numpy.dtype"), (np.ndarray, "numpy.ndarray")]
    # A dtype is rebuilt by ``numpy.dtype(...)`` then BUILD, which torch allows only for listed types.
    for char in _PLAIN_DTYPES:
        cls = type(np.dtype(char))
        entries.append((cls, f"{cls.__module__}.{cls.__qualname__}"))
    entries += [(_inert_class(path), path) for path in INERT_CLASSES]
    return tuple(entries)


@contextlib.contextmanager
def allowed_while_loading() -> Iterator[None]:
    """Allow :func:`safe_globals` for ``torch.load(weights_only=True)`` inside the block only.

    Entries the process had already allowed stay allowed afterwards; the others are removed again.
    """
    import torch

    already = {e[1] if isinstance(e, tuple) else e for e in torch.serialization.get_safe_globals()}
    ours = [e for e in safe_globals() if e[1] not in already]
    with torch.serialization.safe_globals(ours):
        yield
