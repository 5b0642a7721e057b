"""Synthetic checkpoints in the official layout, for offline demos and tests.

The weights are random: a model converted from them produces meaningless predictions. They exist
so the whole pipeline (load, port, parity, export, reload) can run where the official release
cannot be downloaded. ``convert.py`` never falls back to them on its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import OrderedDict
from pathlib import Path

from tf_videoswin.variants import VARIANTS, VariantConfig, get_variant

logger = logging.getLogger(__name__)


def synthetic_checkpoint(variant: str | VariantConfig, seed: int = 0) -> dict:
    """``{'meta': {...}, 'state_dict': OrderedDict}`` with random weights and official keys/order."""
    import torch

    from reference_torch import build_recognizer

    cfg = get_variant(variant)
    generator = torch.Generator().manual_seed(seed)
    model = build_recognizer(cfg)
    state_dict = OrderedDict()
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            # Unit-scale noise everywhere (LayerNorm gains around 1) so every path carries signal.
            noise = torch.randn(value.shape, generator=generator)
            fan_in = value[0].numel() if value.ndim > 1 else 1
            value = (
                1.0 + 0.2 * noise
                if key.endswith(("norm.weight", "norm1.weight", "norm2.weight"))
                else (noise / fan_in**0.5 if value.ndim > 1 else 0.2 * noise)
            )
        state_dict[key] = value.contiguous()
    meta = {
        "synthetic": True,
        "variant": cfg.name,
        "seed": seed,
        "note": "random weights, not a trained model",
    }
    return {"meta": meta, "state_dict": state_dict}


def write_synthetic_checkpoint(variant: str | VariantConfig, path: str | os.PathLike, seed: int = 0) -> Path:
    """Write :func:`synthetic_checkpoint` to ``path`` (atomically)."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(synthetic_checkpoint(variant, seed), tmp)
    os.replace(tmp, path)
    logger.info("wrote synthetic checkpoint %s", path)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m porting.synthetic --variant NAME --out FILE.pth``: write a synthetic checkpoint."""
    p = argparse.ArgumentParser(prog="python -m porting.synthetic", description=__doc__)
    p.add_argument("--variant", required=True, choices=list(VARIANTS))
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    print(write_synthetic_checkpoint(args.variant, args.out, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
