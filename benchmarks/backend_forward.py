"""Serve forwards of the Keras model on another Keras backend (JAX or PyTorch) to a timing process.

Keras reads ``KERAS_BACKEND`` once per process, so ``benchmarks/inference.py --backend jax,torch`` starts
one of these per backend and times its forwards in the same rounds as its own contestants:

    KERAS_BACKEND=jax python benchmarks/backend_forward.py --weights W.weights.h5 --video V.npy --out L.npy

It builds the variant, loads the weights file (written on TensorFlow), runs one warm-up forward (JAX
compiles here), saves that forward's logits to ``--out``, prints ``ready``, then answers each ``run`` line
on stdin with one forward (finished: JAX's asynchronous dispatch is waited for) and a ``done`` line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def forward_function(variant: str, weights: Path, video: np.ndarray, precision: str = "float32"):
    """A callable running one inference forward of ``video`` on this process's backend, and returning
    the logits as NumPy once the forward has finished."""
    import keras

    from tf_videoswin import build_model

    model = build_model(variant, precision=precision)
    model.load_weights(weights)
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        clip = torch.from_numpy(video)

        def forward():
            with torch.no_grad():
                return model(clip, training=False)["logits"].numpy()

        return forward
    if backend == "jax":
        import jax.numpy as jnp

        clip = jnp.asarray(video)
        return lambda: np.asarray(model(clip, training=False)["logits"])  # waits for the result
    raise SystemExit(f"backend_forward.py serves the jax and torch backends, not {backend!r}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="swin_tiny_patch244_window877_kinetics400_1k")
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="where the warm-up forward's logits go (.npy)")
    p.add_argument("--precision", default="float32")
    args = p.parse_args(argv)
    forward = forward_function(args.variant, args.weights, np.load(args.video), args.precision)
    np.save(args.out, forward())
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        forward()
        print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
