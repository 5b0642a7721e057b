"""Time the exported TF SavedModel against reference_torch on the same clip, in one run.

    python benchmarks/inference.py --variant swin_tiny_patch244_window877_kinetics400_1k --batch 1
    python benchmarks/inference.py --variant ... --batch 4 --runs 3 --json

Both models get the same synthetic weights (official layout); the TF side is a classifier export
written to a temporary directory (or --export DIR) and called through its serving signature.
Seconds are the median per forward after one warm-up call; ratio = tf / torch.
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

from tf_videoswin.variants import VARIANTS, get_variant


def _median_seconds(fn, runs: int) -> float:
    fn()  # warm-up (graph optimisation, allocator)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(variant: str, batch: int, runs: int, frames: int, size: int, export: Path | None) -> dict:
    import tensorflow as tf
    import torch

    from porting.engine import port_weights
    from porting.export import save_export
    from porting.synthetic import synthetic_checkpoint
    from reference_torch import build_recognizer
    from tf_videoswin.recognizer import build_model

    cfg = get_variant(variant)
    state_dict = synthetic_checkpoint(cfg, seed=0)["state_dict"]
    torch_model = build_recognizer(cfg)
    torch_model.load_state_dict(state_dict, strict=True)
    torch.set_num_threads(os.cpu_count() or 1)

    with tempfile.TemporaryDirectory() as tmp:
        if export is None:
            tf_model = build_model(cfg)
            port_weights({k: v.numpy() for k, v in state_dict.items()}, tf_model)
            export = Path(tmp) / "classifier"
            save_export(tf_model, "classifier", export)
            del tf_model
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
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.batch < 1 or args.runs < 1:
        p.error("--batch and --runs must be >= 1")
    result = run(args.variant, args.batch, args.runs, args.frames, args.size, args.export)
    if args.json:
        print(json.dumps(result))
    else:
        r = result
        print(f"{args.variant}  input {r['input_shape']}  ({r['cpu_count']} CPUs)")
        print(f"  TF SavedModel   {r['tf_seconds']:8.3f} s/forward  {r['tf_clips_per_second']:6.3f} clips/s")
        torch_rate = r["torch_clips_per_second"]
        print(f"  reference_torch {r['torch_seconds']:8.3f} s/forward  {torch_rate:6.3f} clips/s")
        print(f"  ratio tf/torch  {r['ratio']:8.3f}")
        status = "ok" if r["parity_ok"] else "FAIL"
        print(f"  max |tf - torch| on logits {r['max_abs_diff']:.2e}  ({status})")
    return 0 if result["parity_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
