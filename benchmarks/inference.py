"""Time the exported TF SavedModel against reference_torch on the same clip, in one run.

    python benchmarks/inference.py --variant swin_tiny_patch244_window877_kinetics400_1k --batch 1
    python benchmarks/inference.py --variant ... --batch 4 --runs 3 --json

Both models get the same synthetic weights (official layout); the TF side is a classifier export
written to a temporary directory (or --export DIR) and called through its serving signature.
Seconds are the median per forward after one warm-up call; ratio = tf / torch.

The same run also measures this machine's arithmetic floor: the model's FLOPs
(:mod:`tf_videoswin.model.flops`, 2 per MAC) divided by the sustained float32 matmul rate of TensorFlow
here (a Swin-shaped ``[12544, 384] x [384, 1536]`` matmul), i.e. the time no implementation built on
these kernels can beat. ``--public-port DIR`` also times a checkout of the public Keras port
https://github.com/innat/VideoSwin (random weights, channels-last input, graph mode) on the same
architecture and clip; its code is imported from DIR, never copied here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tf_videoswin.model.flops import gflop
from tf_videoswin.variants import VARIANTS, get_variant


def _median_seconds(fn, runs: int) -> float:
    fn()  # warm-up (graph optimisation, allocator)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_gflops(runs: int = 5) -> float:
    """Sustained float32 GFLOP/s of a TF matmul the size of a Swin-T stage-2 MLP, in graph mode."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant(rng.standard_normal((12544, 384)).astype(np.float32))
    b = tf.constant(rng.standard_normal((384, 1536)).astype(np.float32))
    product = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)))
    seconds = _median_seconds(lambda: product(a, b).numpy(), runs)
    return 2 * 12544 * 384 * 1536 / seconds / 1e9


def is_public_port_checkout(path: Path) -> bool:
    return (path / "videoswin" / "__init__.py").is_file()


def public_port_forward(checkout: Path, variant: str, video: np.ndarray):
    """A graph-mode forward of innat/VideoSwin's Keras backbone + pooling + dense head (random weights)."""
    import keras
    import tensorflow as tf

    if not is_public_port_checkout(checkout):
        raise FileNotFoundError(f"{checkout} is not a checkout of innat/VideoSwin (no videoswin/)")
    sys.path.insert(0, str(checkout))
    from videoswin import VideoSwinBackbone

    cfg = get_variant(variant)
    channels_last = np.ascontiguousarray(video.transpose(0, 2, 3, 4, 1))
    backbone = VideoSwinBackbone(
        input_shape=channels_last.shape[1:],
        window_size=cfg.window_size,
        embed_dim=cfg.embed_dim,
        depths=list(cfg.depths),
        num_heads=list(cfg.num_heads),
        include_rescaling=False,
    )
    head = keras.layers.Dense(cfg.num_classes)
    pool = keras.layers.GlobalAveragePooling3D()
    forward = tf.function(lambda x: head(pool(backbone(x, training=False))))
    tensor = tf.constant(channels_last)
    return lambda: forward(tensor).numpy()


def run(
    variant: str,
    batch: int,
    runs: int,
    frames: int,
    size: int,
    export: Path | None,
    public_port: Path | None = None,
) -> dict:
    import tensorflow as tf
    import torch

    from porting.pipeline import port_checkpoint
    from porting.synthetic import synthetic_checkpoint
    from tf_videoswin.export.savedmodel import save_export

    cfg = get_variant(variant)
    ported = port_checkpoint(cfg, synthetic_checkpoint(cfg, seed=0)["state_dict"])
    torch_model = ported.reference
    torch.set_num_threads(os.cpu_count() or 1)

    with tempfile.TemporaryDirectory() as tmp:
        if export is None:
            export = Path(tmp) / "classifier"
            save_export(ported.tf_model, "classifier", export)
        ported.tf_model = None
        serving = tf.saved_model.load(str(export)).signatures["serving_default"]
        shape = (batch, 3, frames, size, size)
        video = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        tf_video = tf.constant(video)
        torch_video = torch.from_numpy(video)

        def tf_forward():
            return serving(video=tf_video)["logits"].numpy()

        def torch_forward():
            with torch.no_grad():
                return torch_model(torch_video)["logits"].numpy()

        tf_seconds = _median_seconds(tf_forward, runs)
        torch_seconds = _median_seconds(torch_forward, runs)
        max_abs = float(np.abs(tf_forward() - torch_forward()).max())
        public = {}
        if public_port is not None:
            public_seconds = _median_seconds(public_port_forward(public_port, variant, video), runs)
            public = {
                "public_port_seconds": public_seconds,
                "public_port_ratio": public_seconds / torch_seconds,
            }
        peak = matmul_gflops()
    work = gflop(cfg, frames, size, size) * batch
    return {
        "variant": variant,
        "batch": batch,
        "input_shape": list(shape),
        "tf_seconds": tf_seconds,
        "torch_seconds": torch_seconds,
        "ratio": tf_seconds / torch_seconds,
        "tf_clips_per_second": batch / tf_seconds,
        "torch_clips_per_second": batch / torch_seconds,
        "max_abs_diff": max_abs,
        "parity_ok": max_abs <= 1e-4,
        "gflop": work,
        "tf_gflops_per_second": work / tf_seconds,
        "matmul_peak_gflops_per_second": peak,
        "floor_seconds": work / peak,
        "floor_ratio": work / peak / torch_seconds,
        **public,
        "cpu_count": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="swin_tiny_patch244_window877_kinetics400_1k", choices=list(VARIANTS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (median reported)")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument(
        "--export", type=Path, help="an existing classifier export (default: export to a temp dir)"
    )
    p.add_argument(
        "--public-port",
        type=Path,
        metavar="DIR",
        help="a checkout of https://github.com/innat/VideoSwin to time in the same run",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.batch < 1 or args.runs < 1:
        p.error("--batch and --runs must be >= 1")
    if args.public_port is not None and not is_public_port_checkout(args.public_port):
        p.error(f"--public-port {args.public_port}: not a checkout of innat/VideoSwin (no videoswin/)")
    result = run(args.variant, args.batch, args.runs, args.frames, args.size, args.export, args.public_port)
    if args.json:
        print(json.dumps(result))
    else:
        r = result
        print(f"{args.variant}  input {r['input_shape']}  ({r['cpu_count']} CPUs)")
        print(f"  TF SavedModel   {r['tf_seconds']:8.3f} s/forward  {r['tf_clips_per_second']:6.3f} clips/s")
        torch_rate = r["torch_clips_per_second"]
        print(f"  reference_torch {r['torch_seconds']:8.3f} s/forward  {torch_rate:6.3f} clips/s")
        if "public_port_seconds" in r:
            public = r["public_port_seconds"]
            print(f"  innat/VideoSwin {public:8.3f} s/forward  ratio to torch {r['public_port_ratio']:.3f}")
        print(f"  ratio tf/torch  {r['ratio']:8.3f}")
        print(
            f"  {r['gflop']:.1f} GFLOP: TF at {r['tf_gflops_per_second']:.1f} GFLOP/s; TF matmul peak here "
            f"{r['matmul_peak_gflops_per_second']:.1f} GFLOP/s -> floor {r['floor_seconds']:.3f} s "
            f"(ratio {r['floor_ratio']:.3f})"
        )
        status = "ok" if r["parity_ok"] else "FAIL"
        print(f"  max |tf - torch| on logits {r['max_abs_diff']:.2e}  ({status})")
    return 0 if result["parity_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
