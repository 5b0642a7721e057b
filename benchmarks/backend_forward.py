"""Serve forwards of the Keras model on another Keras backend (JAX or PyTorch) to a timing process.

Keras reads ``KERAS_BACKEND`` once per process, so ``benchmarks/inference.py --backend jax,torch`` starts
one of these per backend and times its forwards in the same rounds as its own contestants:

    KERAS_BACKEND=jax python benchmarks/backend_forward.py --weights W.weights.h5 --video V.npy --out L.npy

It builds the variant, loads the weights file (written on TensorFlow), runs one warm-up forward (JAX
compiles here), saves that forward's logits to ``--out``, prints ``ready``, then answers each ``run`` line
on stdin with one forward (finished: JAX's asynchronous dispatch is waited for) and a ``done`` line.

``--public-port DIR`` also builds innat/VideoSwin's backbone + pooling + dense head from that checkout
(random weights, channels-last, the same architecture) on the same backend, warms it up, and answers
``run public`` lines with its forward: on JAX it is jitted with the same XLA options as this port.
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


def is_public_port_checkout(path: Path) -> bool:
    """``path`` is a checkout of innat/VideoSwin: it holds the ``videoswin`` package."""
    return (path / "videoswin" / "__init__.py").is_file()


def public_port_model(checkout: Path, variant: str, clip_shape: tuple[int, ...]):
    """innat/VideoSwin's backbone, global pooling and a dense head (random weights) for channels-last
    clips of ``clip_shape`` ``(T, H, W, 3)``, built from the checkout on this process's backend."""
    import keras

    from tf_videoswin import get_variant

    if not is_public_port_checkout(checkout):
        raise FileNotFoundError(f"{checkout} is not a checkout of innat/VideoSwin (no videoswin/)")
    sys.path.insert(0, str(checkout))
    from videoswin import VideoSwinBackbone

    arch = get_variant(variant).arch
    backbone = VideoSwinBackbone(
        input_shape=clip_shape,
        window_size=arch.window_size,
        embed_dim=arch.embed_dim,
        depths=list(arch.depths),
        num_heads=list(arch.num_heads),
        include_rescaling=False,
    )
    inputs = keras.Input(clip_shape)
    pooled = keras.layers.GlobalAveragePooling3D()(backbone(inputs))
    return keras.Model(inputs, keras.layers.Dense(arch.num_classes)(pooled))


def public_port_forward(checkout: Path, variant: str, video: np.ndarray):
    """A callable running one inference forward of :func:`public_port_model` on this process's backend
    (JAX or PyTorch), returning the logits as NumPy."""
    import keras

    clip = np.ascontiguousarray(video.transpose(0, 2, 3, 4, 1))
    model = public_port_model(checkout, variant, clip.shape[1:])
    if keras.backend.backend() == "torch":
        import torch

        tensor = torch.from_numpy(clip)

        def forward():
            with torch.no_grad():
                return model(tensor, training=False).numpy()

        return forward
    import jax

    from tf_videoswin.model.xla_options import jax_compiler_options

    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    jitted = jax.jit(
        lambda t, f, x: model.stateless_call(t, f, x, training=False)[0],
        compiler_options=jax_compiler_options(),
    )
    tensor = jax.numpy.asarray(clip)
    return lambda: np.asarray(jitted(trainable, frozen, tensor))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="swin_tiny_patch244_window877_kinetics400_1k")
    p.add_argument("--weights", type=Path, required=True)
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="where the warm-up forward's logits go (.npy)")
    p.add_argument("--precision", default="float32")
    p.add_argument("--public-port", type=Path, metavar="DIR", help="also serve innat/VideoSwin's forward")
    args = p.parse_args(argv)
    video = np.load(args.video)
    forwards = {"run": forward_function(args.variant, args.weights, video, args.precision)}
    np.save(args.out, forwards["run"]())
    if args.public_port is not None:
        forwards["run public"] = public_port_forward(args.public_port, args.variant, video)
        forwards["run public"]()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() not in forwards:
            break
        forwards[line.strip()]()
        print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
