"""Reading Video Swin checkpoints without mmcv or mmengine: safely, onto the CPU, as float32 numpy arrays.

Official ``.pth`` files are plain torch pickles: ``{'meta': {...}, 'state_dict': OrderedDict}``; mmaction2
1.x files have the same shape with an mmengine ``meta``. They are loaded with ``weights_only=True``, with
only the plain numpy types and inert records of :mod:`porting.safe_globals` allowed on top, unless the
caller explicitly trusts the file (a full unpickle). Floating tensors of any precision (float16, bfloat16,
float64) are converted to float32, the precision of the upstream models, so half-precision checkpoints
convert like any other.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import zipfile
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from tf_videoswin.errors import CheckpointError
from tf_videoswin.optional import require

from .safe_globals import allowed_while_loading

torch = require("torch", "reading a PyTorch checkpoint")

logger = logging.getLogger(__name__)

#: Container keys under which checkpoints of mmaction / mmcv / timm keep their weights.
_STATE_DICT_KEYS = ("state_dict", "model", "module")


def load_checkpoint_file(path: str | os.PathLike, trust_checkpoint: bool = False) -> dict:
    """Load a ``.pth`` file onto the CPU; ``weights_only=True`` unless ``trust_checkpoint``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint path is a directory, expected a .pth file: {path}")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"checkpoint is empty (0 bytes): {path}")
    try:
        if trust_checkpoint:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        else:
            with allowed_while_loading():
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _refused_object(str(e))
        if not trust_checkpoint and refused:
            raise CheckpointError(
                f"{path} pickles the Python object {refused}, so it cannot be loaded with "
                "torch.load(weights_only=True) and the plain numpy types allowed on top. If you trust its "
                "origin, pass --trust-checkpoint to unpickle it fully (this can run arbitrary code)."
            ) from e
        raise CheckpointError(f"checkpoint is truncated or corrupt: {path} (unpickling failed)") from e
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise CheckpointError(
            f"checkpoint is truncated or corrupt: {path} ({type(e).__name__}: {str(e).splitlines()[0]})"
        ) from e
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected a dict or a state_dict")
    return obj


def _refused_object(message: str) -> str | None:
    """The global or class that ``weights_only`` loading refused, from torch's error message."""
    found = re.search(r"Unsupported global: GLOBAL (\S+)", message) or re.search(
        r"allowlisted via `add_safe_globals`, but got <class '([^']+)'>", message
    )
    return found.group(1) if found else None


def extract_state_dict(obj: Mapping) -> OrderedDict[str, torch.Tensor]:
    """Unwrap the official layout (``{'meta', 'state_dict'}``) or accept a bare state_dict."""
    for key in _STATE_DICT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
            obj = inner
            break
    if not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        found = ", ".join(sorted(map(str, obj))[:8])
        raise CheckpointError(
            f"no state_dict found: expected {{'state_dict': ...}} or a mapping of tensors, got keys [{found}]"
        )
    state_dict = OrderedDict((str(k), v) for k, v in obj.items())
    if all(k.startswith("module.") for k in state_dict):  # saved from DistributedDataParallel
        state_dict = OrderedDict((k[len("module.") :], v) for k, v in state_dict.items())
    return state_dict


def to_numpy(state_dict: Mapping[str, torch.Tensor]) -> OrderedDict[str, np.ndarray]:
    """Tensors as numpy arrays; every floating tensor as float32 (bfloat16 has no numpy dtype)."""
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    upcast: dict[str, int] = {}
    for key, value in state_dict.items():
        value = value.detach().cpu()
        if value.is_floating_point() and value.dtype != torch.float32:
            upcast[str(value.dtype)] = upcast.get(str(value.dtype), 0) + 1
            value = value.to(torch.float32)
        out[key] = value.contiguous().numpy()
    for dtype, count in upcast.items():
        logger.info("converted %d %s tensors to float32", count, dtype.replace("torch.", ""))
    return out


def load_state_dict(path: str | os.PathLike, trust_checkpoint: bool = False) -> OrderedDict[str, np.ndarray]:
    """The state_dict of a checkpoint file (``backbone.*``, ``cls_head.*`` keys) as float32 numpy arrays.

    Raises:
        CheckpointError: missing, empty, truncated, corrupt or unsafe file, or no state_dict in it.
    """
    state_dict = to_numpy(extract_state_dict(load_checkpoint_file(path, trust_checkpoint)))
    logger.info("loaded %d tensors from %s", len(state_dict), path)
    return state_dict
