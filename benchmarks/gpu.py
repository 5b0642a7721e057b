"""Parity and speed of the Keras model on a GPU with JAX and PyTorch (no TensorFlow needed).

    python benchmarks/gpu.py --golden-dir GOLDEN --checkpoint tiny.pth [--batches 1,8] [--json]

Each backend runs in a process of its own (Keras' backend is fixed per process). First parity: the
synthetic checkpoint (``golden_gen.py --seed 0``) through ``from_pretrained`` on the golden input, in
float32 with TF32 off (JAX ``highest`` matmul precision, PyTorch ``allow_tf32 = False``), against the
official code's outputs (max-abs must stay within 1e-4). Then timings at ``B x 3 x 32 x 224 x 224``:
JAX (jitted) and PyTorch in float32 and bfloat16 at each batch, beside ``reference_torch`` on CUDA
(float32, and bfloat16 under autocast), median of ``--runs`` after warm-up, synchronised. The table
goes to ``benchmarks/RESULTS.md`` with the GPU named. On a machine without a GPU it runs on the CPU
(``--frames/--size`` make it small enough to check the script itself).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

VARIANT = "swin_tiny_patch244_window877_kinetics400_1k"
GOLDEN_TOLERANCE = 1e-4


def _median_seconds(fn, sync, runs: int) -> float:
    fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def worker(args: argparse.Namespace) -> dict:
    """This process's backend: parity with TF32 off, then the timings."""
    import keras

    import tf_videoswin

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
        device = str(jax.devices()[0])
        sync = lambda: None  # noqa: E731  (the forwards below return host arrays: already waited for)
    else:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
        sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    result: dict = {"backend": backend, "device": device}
    with np.load(Path(args.golden_dir) / f"golden_{VARIANT}_small.npz") as data:
        golden = {k: data[k] for k in data.files}
    model = tf_videoswin.from_pretrained(VARIANT, checkpoint=args.checkpoint, progress=False)
    out = {k: keras.ops.convert_to_numpy(v) for k, v in model(golden["input"]).items()}
    result["parity"] = {k: float(np.abs(out[k] - golden[k]).max()) for k in ("features", "pooled", "logits")}
    weights = Path(args.scratch) / "model.weights.h5"
    model.save_weights(weights)
    for precision in ("float32", "bfloat16"):
        timed = tf_videoswin.from_pretrained(VARIANT, weights=weights, precision=precision)
        for batch in args.batches:
            video = np.random.default_rng(0).standard_normal((batch, 3, args.frames, args.size, args.size))
            clip = keras.ops.convert_to_tensor(video.astype(np.float32))
            if backend == "torch":
                import torch

                def forward(m=timed, clip=clip):
                    with torch.no_grad():
                        return m(clip)["logits"]
            else:
                forward = lambda m=timed, clip=clip: np.asarray(m(clip)["logits"])  # noqa: E731
            result[f"{precision}_batch{batch}_seconds"] = _median_seconds(forward, sync, args.runs)
    if backend == "torch":
        result.update(_reference_torch(args, model, sync))
    return result


def _reference_torch(args: argparse.Namespace, model, sync) -> dict:
    """``reference_torch`` with the same weights on the same device, float32 and bf16 autocast."""
    import torch

    from porting.port import port_checkpoint

    device = "cuda" if torch.cuda.is_available() else "cpu"
    reference = port_checkpoint(VARIANT, args.checkpoint).reference.to(device).eval()
    result = {}
    for batch in args.batches:
        shape = (batch, 3, args.frames, args.size, args.size)
        video = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32)).to(
            device
        )
        for precision, dtype in (("float32", None), ("bfloat16", torch.bfloat16)):

            def forward(video=video, dtype=dtype):
                with torch.no_grad(), torch.autocast(device, dtype=dtype, enabled=dtype is not None):
                    return reference(video)["logits"]

            result[f"reference_torch_{precision}_batch{batch}_seconds"] = _median_seconds(
                forward, sync, args.runs
            )
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golden-dir", type=Path, required=True, help="shared/golden/data")
    p.add_argument("--checkpoint", type=Path, required=True, help="the seed-0 synthetic Swin-T .pth")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--backends", default="jax,torch")
    p.add_argument("--scratch", type=Path, default=Path("/tmp"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    args.batches = [int(b) for b in str(args.batches).split(",")]
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return 0
    results, ok = [], True
    for backend in args.backends.split(","):
        cmd = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--worker"]
        run = subprocess.run(
            cmd, env={**os.environ, "KERAS_BACKEND": backend}, capture_output=True, text=True
        )
        lines = [x for x in run.stdout.splitlines() if x.startswith("RESULT ")]
        if run.returncode or not lines:
            print(f"{backend}: failed\n{run.stderr[-3000:]}", file=sys.stderr)
            return 1
        result = json.loads(lines[-1].removeprefix("RESULT "))
        ok = ok and max(result["parity"].values()) <= GOLDEN_TOLERANCE
        results.append(result)
    if args.json:
        print(json.dumps(results))
    for r in results:
        print(f"{r['backend']} on {r['device']}: parity vs official (max-abs) {r['parity']}")
        for key, value in r.items():
            if key.endswith("_seconds"):
                print(f"  {key:<40} {value:8.4f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
