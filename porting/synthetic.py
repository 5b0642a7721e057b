"""Synthetic checkpoints in the official or the mmaction2 layout, for offline demos and tests.

The weights are random: a model converted from them produces meaningless predictions. They exist
so the whole pipeline (load, port, parity, export, reload) can run where the upstream release
cannot be downloaded. ``convert.py`` never falls back to them on its own.

- ``official``: ``{'meta': {...}, 'state_dict': OrderedDict}`` with the keys and order of the official
  ``.pth`` files (final norm ``backbone.norm``).
- ``mmaction2``: the same keys except the final norm, ``backbone.norm3``, and an mmengine-style ``meta``
  (config text, seed, epoch/iter, versions, ``dataset_meta``, plus the numpy scalars, dtypes and arrays
  that mmengine's runtime records hold), as mmaction2 1.x's published files have.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

from tf_videoswin.variants import LAYOUTS, MMACTION2, VARIANTS, VariantConfig, get_variant

logger = logging.getLogger(__name__)

#: LayerNorm gains get values around 1 (the final norm is ``norm`` or mmaction2's ``norm3``).
_NORM_GAINS = ("norm.weight", "norm1.weight", "norm2.weight", "norm3.weight")


def synthetic_state_dict(
    variant: str | VariantConfig, seed: int = 0, layout: str | None = None
) -> OrderedDict:
    """Random weights with the keys, order, shapes and dtypes of a checkpoint of ``variant``.

    Args:
        variant: registry name or entry (its architecture).
        seed: the generator seed; the same seed gives the same weights in either layout.
        layout: ``official`` or ``mmaction2``; default: the variant's own.
    Returns:
        ``OrderedDict[str, torch.Tensor]``: unit-scale noise, the exact ``relative_position_index`` buffers.
    """
    import torch

    from reference_torch import build_recognizer
    from reference_torch.window_ops import relative_position_index

    cfg = get_variant(variant)
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # keys and shapes only: no memory for a model that is never run
        model = build_recognizer(cfg, layout or cfg.layout)
    index = relative_position_index(cfg.arch.window_size)
    state_dict = OrderedDict()
    for key, value in model.state_dict().items():
        if key.endswith("relative_position_index"):
            state_dict[key] = index.clone()
            continue
        # Unit-scale noise everywhere (LayerNorm gains around 1) so every path carries signal.
        noise = torch.randn(value.shape, generator=generator)
        fan_in = value[0].numel() if value.ndim > 1 else 1
        if key.endswith(_NORM_GAINS):
            state_dict[key] = 1.0 + 0.2 * noise
        else:
            state_dict[key] = noise / fan_in**0.5 if value.ndim > 1 else 0.2 * noise
    return state_dict


def mmengine_meta(cfg: VariantConfig, seed: int = 0) -> dict[str, Any]:
    """A ``meta`` shaped like the one mmengine's ``Runner.save_checkpoint`` writes, marked synthetic.

    Besides plain strings and numbers it holds what mmengine's runtime records put into checkpoints
    and what ``torch.load(weights_only=True)`` refuses by default: numpy scalars, a numpy dtype and a
    numpy array (as in ``message_hub`` / evaluation results).
    """
    import numpy as np

    return {
        "synthetic": True,
        "note": "random weights, not a trained model",
        "variant": cfg.name,
        "cfg": f"# synthetic stand-in for the config of {cfg.name}\nmodel = dict(type='Recognizer3D')\n",
        "seed": seed,
        "experiment_name": f"{cfg.name}_synthetic",
        "time": "20220930_000000",
        "mmengine_version": "0.1.0",
        "dataset_meta": {},
        "epoch": 30,
        "iter": 0,
        "best_score": np.float64(0.5),
        "best_epoch": np.int64(30),
        "score_dtype": np.dtype("float32"),
        "recent_scores": np.array([0.25, 0.5], dtype=np.float32),
    }


def synthetic_checkpoint(variant: str | VariantConfig, seed: int = 0, layout: str | None = None) -> dict:
    """``{'meta': {...}, 'state_dict': OrderedDict}`` with random weights in the given layout.

    Args:
        variant: registry name or entry.
        seed: the generator seed.
        layout: ``official`` or ``mmaction2``; default: the variant's own.
    """
    cfg = get_variant(variant)
    layout = layout or cfg.layout
    state_dict = synthetic_state_dict(cfg, seed, layout)
    if layout == MMACTION2:
        meta = mmengine_meta(cfg, seed)
    else:
        meta = {
            "synthetic": True,
            "variant": cfg.name,
            "seed": seed,
            "note": "random weights, not a trained model",
        }
    return {"meta": meta, "state_dict": state_dict}


def write_synthetic_checkpoint(
    variant: str | VariantConfig, path: str | os.PathLike, seed: int = 0, layout: str | None = None
) -> Path:
    """Write :func:`synthetic_checkpoint` to ``path`` (atomically)."""
    import torch

    from tf_videoswin.files import atomic_write

    checkpoint = synthetic_checkpoint(variant, seed, layout)
    path = atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))
    logger.info("wrote synthetic checkpoint %s", path)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m porting.synthetic --variant NAME --out FILE.pth``: write a synthetic checkpoint."""
    p = argparse.ArgumentParser(prog="python -m porting.synthetic", description=__doc__)
    p.add_argument("--variant", required=True, choices=list(VARIANTS))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--layout", choices=LAYOUTS, help="key layout (default: the variant's own)")
    args = p.parse_args(argv)
    print(write_synthetic_checkpoint(args.variant, args.out, args.seed, args.layout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
