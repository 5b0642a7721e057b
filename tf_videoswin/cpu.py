"""TensorFlow's oneDNN CPU kernels: on by default for this package.

TensorFlow's x86 builds enable oneDNN by default only on CPUs with AVX512_VNNI, AVX512_BF16 or AMX; on
AVX2-only CPUs its kernels stay off, and this model, whose attention is laid out for oneDNN's fused batch
matmul, runs ~1.4x slower there (docs/performance.md).
Importing :mod:`tf_videoswin` therefore sets ``TF_ENABLE_ONEDNN_OPTS=1`` unless the variable is already
set (``TF_ENABLE_ONEDNN_OPTS=0`` keeps TensorFlow's own choice). TensorFlow reads the variable once, at
its first import: if it was imported before this package, :func:`log_if_onednn_off` says how to set it.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

#: TensorFlow's switch for its oneDNN CPU kernels.
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"


def default_to_onednn(environ: dict | None = None, imported: set | None = None) -> bool:
    """Set ``TF_ENABLE_ONEDNN_OPTS=1`` unless it is set or TensorFlow is already imported.

    Returns whether it set the variable. ``environ`` and ``imported`` (module names) default to
    ``os.environ`` and ``sys.modules``.
    """
    environ = os.environ if environ is None else environ
    imported = sys.modules.keys() if imported is None else imported
    if ONEDNN_ENV in environ or "tensorflow" in imported:
        return False
    environ[ONEDNN_ENV] = "1"
    return True


def onednn_enabled() -> bool | None:
    """Whether this process's TensorFlow runs its oneDNN kernels (None: TensorFlow cannot tell)."""
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):
        return None


def log_if_onednn_off() -> None:
    """Log once how to turn oneDNN on, where TensorFlow runs without it and nobody chose that."""
    if ONEDNN_ENV not in os.environ and onednn_enabled() is False:
        logger.warning(
            "TensorFlow runs without its oneDNN CPU kernels (it was imported before tf_videoswin on a CPU "
            "without AVX512_VNNI/AVX512_BF16/AMX); Video Swin runs ~1.4x faster with them: set %s=1 "
            "before importing TensorFlow",
            ONEDNN_ENV,
        )


default_to_onednn()
