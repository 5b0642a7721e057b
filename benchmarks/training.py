"""Training step time and peak memory, with and without gradient checkpointing (recompute).

    python benchmarks/training.py [--variant swin_tiny_patch244_window877_kinetics400_1k] [--batch 2] \\
        [--frames 32] [--size 224] [--steps 3] [--modes plain,recompute] [--precision bfloat16] \\
        [--compile] [--json]

Each mode runs in its own child process (so peak memory is that mode's alone): random weights of the
variant with a 400-class head, the variant's upstream optimizer (AdamW per parameter group), one
warm-up step (tracing), then ``--steps`` timed steps of forward + backward + accumulate + optimizer
update on a random ``[batch, 3, frames, size, size]`` clip in training mode. Reported per mode: median
step seconds, peak RSS of the child (getrusage) and its RSS before the first step (model and
optimizer state), so ``peak - before`` is what the step itself needs. ``--max-rss-gb`` stops a mode
whose memory passes a limit (reported as ``exceeded_rss_gb``) instead of letting it exhaust a shared host.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

from tf_videoswin.config import TRAINING_PRECISIONS
from tf_videoswin.variants import VARIANTS

TINY = "swin_tiny_patch244_window877_kinetics400_1k"


def _rss_gb() -> float:
    """Current resident set size (Linux /proc), in GB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1024**3


def _watch_rss(limit_gb: float, mode: str) -> None:
    """Stop this process (and say so) once its RSS passes ``limit_gb``: on a shared machine an
    oversized run must not push others into the OOM killer."""
    import threading

    def watch() -> None:
        while True:
            rss = _rss_gb()
            if rss > limit_gb:
                print(json.dumps({"mode": mode, "exceeded_rss_gb": limit_gb, "rss_gb": rss}), flush=True)
                os._exit(3)
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()


def child(args: argparse.Namespace) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if args.max_rss_gb:
        _watch_rss(args.max_rss_gb, args.child)
    import numpy as np
    import tensorflow as tf

    from tf_videoswin.model import build_model
    from tf_videoswin.training.loop import classification_loss
    from tf_videoswin.training.optimizer import GroupedAdamW
    from tf_videoswin.training.param_groups import group_variables
    from tf_videoswin.training.recipe import recipe_for

    recipe = recipe_for(args.variant)
    model = build_model(args.variant, precision=args.precision)
    model.set_gradient_checkpointing(args.child == "recompute")
    optimizer = GroupedAdamW(group_variables(model, recipe.custom_keys), recipe.weight_decay)
    rng = np.random.default_rng(0)
    video = tf.constant(
        rng.standard_normal((args.batch, 3, args.frames, args.size, args.size)).astype(np.float32)
    )
    labels = tf.constant(rng.integers(0, model.config.num_classes, args.batch).astype(np.int32))

    def micro_step():
        with tf.GradientTape() as tape:
            loss = classification_loss(model(video, training=True)["logits"], labels, False)
        optimizer.accumulate(tape.gradient(loss, optimizer.variables))
        return loss

    step = tf.function(micro_step, autograph=False) if args.compile else micro_step
    before = _rss_gb()
    start = time.perf_counter()
    step()
    optimizer.step(1e-4)
    warmup = time.perf_counter() - start
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        float(step())
        optimizer.step(1e-4)
        times.append(time.perf_counter() - start)
    return {
        "mode": args.child,
        "variant": args.variant,
        "input_shape": [args.batch, 3, args.frames, args.size, args.size],
        "compile": args.compile,
        "precision": args.precision,
        "warmup_seconds": warmup,
        "step_seconds": statistics.median(times),
        "steps": args.steps,
        "rss_before_gb": before,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default=TINY, choices=list(VARIANTS))
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    p.add_argument("--modes", default="plain,recompute", help="comma-separated: plain, recompute")
    p.add_argument("--compile", action="store_true", help="trace the step with tf.function")
    p.add_argument(
        "--precision",
        choices=TRAINING_PRECISIONS,
        default="float32",
        help="what the matmuls compute in (finetune --precision)",
    )
    p.add_argument(
        "--max-rss-gb",
        type=float,
        help="stop a mode whose resident memory passes this (reported as exceeded)",
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", choices=("plain", "recompute"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    results = []
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        if mode not in ("plain", "recompute"):
            p.error(f"unknown mode {mode!r}")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--variant", args.variant]
        cmd += ["--batch", str(args.batch), "--frames", str(args.frames), "--size", str(args.size)]
        cmd += ["--steps", str(args.steps), "--precision", args.precision]
        cmd += ["--compile"] if args.compile else []
        cmd += ["--max-rss-gb", str(args.max_rss_gb)] if args.max_rss_gb else []
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 3 and "exceeded_rss_gb" in proc.stdout:
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            continue
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            return proc.returncode
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(results))
        return 0
    for r in results:
        if "exceeded_rss_gb" in r:
            print(f"{r['mode']:>9}  stopped: resident memory passed {r['exceeded_rss_gb']:g} GB")
            continue
        print(
            f"{r['mode']:>9}  {'x'.join(map(str, r['input_shape']))} {r['precision']}  "
            f"step {r['step_seconds']:.2f} s "
            f"(warm-up {r['warmup_seconds']:.1f} s)  peak RSS {r['peak_rss_gb']:.2f} GB "
            f"(before the first step {r['rss_before_gb']:.2f} GB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
