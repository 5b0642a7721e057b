"""Where a forward's time goes: TensorFlow's own profiler, summed per op type, against the floor.

    python benchmarks/profile_ops.py [--variant swin_tiny_patch244_window877_kinetics400_1k] \\
        [--shape 1,3,32,224,224] [--precision float32|bfloat16|float16] [--attention-precision P] \\
        [--top 25] [--by-stage] [--json]

Random weights (speed does not depend on their values). One traced forward (``tf.function`` of the Keras model
for any clip size, as the SavedModel runs it) is warmed up, timed (median of ``--runs``), then run once under
``tf.profiler``. The trace gives the kernels each executor thread ran and the work regions of each thread of
the intra-op pool that oneDNN and Eigen spread a kernel's work over. The table gives each op type's wall time,
sliced so that every moment goes in equal parts to the kernels running at it (a kernel alone gets all of its
time whether it uses one core or all of them; two side by side get half each), its share of the profiled
forward, and its kernel time summed over the executor threads. "Idle" is the time the cores spent outside the
pool's work regions (per pool thread; work a small op does inline on its executor thread counts as idle, so
read it as an upper bound); "no kernel running" is the time in which no executor thread ran a kernel. Matmul
ops are compared with what the model's matmul FLOPs need at the float32 matmul rate the floor of
``benchmarks/inference.py`` uses: if they take about that, the matmuls run at the floor and what separates the
forward from the floor is the rest of the table.

The report ends with the bounds the profiled forward sets (:func:`bounds`): how much time outside the matmuls
a forward at 1.5x / 1.3x the floor may spend; the most batching can gain if it removed every idle
moment (each kernel's work grows with the number of clips); and, for a float32 profile on a CPU with
bf16 arithmetic, the most a bfloat16 forward can gain over float32 if only its matmuls got faster (by the
bf16 / float32 matmul rate measured here): with every matmul in bf16 (``attention_precision="bfloat16"``),
and with the attention scores q·kᵀ kept in float32 (the default ``attention_precision="float32"``:
TensorFlow has no CPU batch matmul from bf16 inputs to a float32 output, so that model computes its
scores at the float32 rate).

``--by-stage`` also times and profiles each of the backbone's four stages on its own (its input is what the
stages before it produce on the same clip), against the floor of that stage's FLOPs: which stage the time
outside the matmuls belongs to. Each stage's profile is then split by part of its blocks, read from the op
names: the window attention loop (qkv projection, scores, softmax, values, window by window), the MLP loop,
and the rest (LayerNorms, padding, shifts, window partition and reverse, the attention's output projection,
PatchMerging), each against the floor of its own FLOPs (:func:`tf_videoswin.model.flops.stage_macs`).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from inference import cpu_info, matmul_gflops, median_seconds  # noqa: E402

from tf_videoswin.config import PRECISIONS  # noqa: E402
from tf_videoswin.console import (  # noqa: E402
    add_attention_precision_argument,
    check_attention_precision_argument,
    parse_shape,
    positive_int,
)
from tf_videoswin.model.flops import gflop, stage_macs  # noqa: E402
from tf_videoswin.model.functional import MLP_LOOP_SCOPE, WINDOW_LOOP_SCOPE  # noqa: E402
from tf_videoswin.variants import VARIANTS, get_variant  # noqa: E402

#: Op types by what they do (oneDNN ops carry an ``_Mkl`` prefix, dropped before the lookup).
CATEGORIES = {
    "MatMul": "matmul (linear layers)",
    "FusedMatMul": "matmul (linear layers)",
    "NativeFusedMatMul": "matmul (linear layers)",
    "BatchMatMulV2": "batch matmul (attention)",
    "BatchMatMulV3": "batch matmul (attention)",
    # q·kᵀ with the relative-position bias added inside the kernel (oneDNN's batch matmul + add).
    "FusedBatchMatMulV2": "batch matmul (attention)",
    "Softmax": "softmax",
    "Transpose": "transpose (windows, heads)",
    "Cast": "cast (reduced precision)",
    # Statistics and affine in one kernel: oneDNN's rewrite of an export's FusedBatchNormV3 LayerNorm.
    "LayerNorm": "LayerNorm",
    "FusedBatchNormV3": "LayerNorm",
}
#: Op types (``_Mkl`` prefix dropped) of the attention score matmul q·kᵀ: oneDNN's batch matmul with the
#: relative-position bias added inside it. A bfloat16 model with float32 attention logits keeps these in
#: float32; a score matmul that ran unfused counts as a value product, which only raises the bound.
SCORE_MATMUL_OPS = ("FusedBatchMatMulV2",)
#: The categories above whose kernels are matmuls (what the floor counts); the rest is "outside matmuls".
MATMUL_CATEGORIES = ("matmul (linear layers)", "batch matmul (attention)")
#: Events on the executor's threads that are marks, not kernels.
NOT_KERNELS = ("ThreadpoolListener", "MemoryAllocation", "MemoryDeallocation")
LOOP_OPS = ("TensorList", "ParallelFor", "Enter", "Exit", "NextIteration", "Merge", "Switch", "LoopCond")
#: The parts of a stage by the name scope their ops run in, and the :func:`stage_macs` parts they compute.
PARTS = {
    "window attention loop": (WINDOW_LOOP_SCOPE, ("attention",)),
    "MLP loop": (MLP_LOOP_SCOPE, ("mlp",)),
    "rest": (None, ("proj", "norm", "merging")),
}


def op_type(name: str) -> str:
    """``MatMul`` of a profiler event named ``scope/.../name:MatMul`` (an op type alone stays as is)."""
    return name.rsplit(":", 1)[-1]


def part(name: str) -> str:
    """The :data:`PARTS` entry an op runs in, from the scopes of its name.

    A scope opened again in the same graph gets a numbered name (a shifted block's second window loop,
    over the half windows, runs in ``window_loop_1``): those count as the scope.
    """
    scopes = name.rsplit(":", 1)[0].split("/")
    for label, (scope, _) in PARTS.items():
        if scope is not None and any(re.fullmatch(rf"{scope}(_\d+)?", s) for s in scopes):
            return label
    return "rest"


def category(op: str) -> str:
    name = op.removeprefix("_Mkl")
    if name in CATEGORIES:
        return CATEGORIES[name]
    if name.startswith(LOOP_OPS):
        return "loop bookkeeping (window and slice loops)"
    if name in ("Mean", "SquaredDifference", "Rsqrt", "Sub"):
        return "LayerNorm"
    if name in ("AddV2", "AddN", "Mul", "BiasAdd"):
        return "elementwise add/mul (residual, bias, mask, scale)"
    return f"other ({name})"


#: A kernel on one executor thread: (start, end, ``op name:op type``), times in picoseconds.
Kernel = tuple[int, int, str]


def top_level(kernels: list[Kernel]) -> list[Kernel]:
    """The kernels of one executor thread without the events nested inside them (the profiler records
    ``ParallelFor``, ``MemoryAllocation`` and ``Record`` inside the kernel that issued them)."""
    result, end = [], -1
    for k in sorted(kernels):
        if k[0] < end:
            continue
        result.append(k)
        end = k[1]
    return result


def time_sliced(threads: list[list[Kernel]], key: Callable[[str], str] = op_type) -> collections.Counter:
    """Wall seconds per ``key`` of the kernels' names (default: op type): each moment goes in equal parts
    to the kernels running at it.

    A kernel that runs alone gets all of its wall time whether it keeps one core busy or spreads its
    work over the intra-op pool; two kernels side by side get half each. The sum is the time in which
    some kernel ran.
    """
    points = sorted(
        (t, step, key(name))
        for kernels in threads
        for start, end, name in kernels
        for t, step in ((start, 1), (end, -1))
    )
    seconds, running, last = collections.Counter(), collections.Counter(), None
    for t, step, op in points:
        count = sum(running.values())
        if count and last is not None and t > last:
            for name, n in running.items():
                if n:
                    seconds[name] += (t - last) * n / count / 1e12
        running[op] += step
        last = t
    return seconds


def busy_seconds(regions: list[tuple[int, int]]) -> float:
    """Seconds one pool thread spent inside its work regions (``(start, end)`` in picoseconds)."""
    return sum(end - start for start, end in regions) / 1e12


@dataclasses.dataclass(frozen=True)
class Trace:
    """One profiled run: kernel time per op type summed over the executor's threads (ms), the same
    time sliced into wall seconds (:func:`time_sliced`), the intra-op pool's busy time, and the wall
    seconds by part of a block (:data:`PARTS`)."""

    kernel_ms: collections.Counter
    wall_seconds: collections.Counter
    threads: int
    pool_threads: int
    pool_busy_seconds: float
    part_seconds: collections.Counter = dataclasses.field(default_factory=collections.Counter)


def read_trace(logdir: Path) -> Trace:
    """The executor threads' kernels and the intra-op pool threads' work regions of a profiler trace."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    files = sorted(logdir.rglob("*.xplane.pb"))
    if not files:
        raise RuntimeError(f"the profiler wrote no trace under {logdir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(files[-1].read_bytes())
    executor, pool = [], []
    for plane in space.planes:
        names = {k: v.name for k, v in plane.event_metadata.items()}
        for line in plane.lines:
            base = line.timestamp_ns * 1000
            events = [(base + e.offset_ps, e.duration_ps, names.get(e.metadata_id, "?")) for e in line.events]
            if line.name.startswith("tf_Compute"):
                # ThreadpoolListener marks (an executor thread helping the pool) and the allocator's
                # MemoryAllocation / MemoryDeallocation marks are instants, not kernels (seen between
                # kernels); "Process" is the executor's per-graph frame around the kernels.
                kernels = [
                    (t, t + d, n)
                    for t, d, n in events
                    if not n.startswith(NOT_KERNELS) and op_type(n) != "Process"
                ]
                if kernels:
                    executor.append(top_level(kernels))
            elif "_Eigen/" in line.name:  # a thread of the intra-op pool: StartRegion ... StopRegion
                regions, start = [], None
                for t, _, n in sorted(events):
                    if n.endswith("StartRegion"):
                        start = t
                    elif n.endswith("StopRegion") and start is not None:
                        regions.append((start, t))
                        start = None
                pool.append(busy_seconds(regions))
    kernel_ms = collections.Counter()
    for kernels in executor:
        for start, end, name in kernels:
            kernel_ms[op_type(name)] += (end - start) / 1e9
    return Trace(
        kernel_ms,
        time_sliced(executor),
        max(1, len(executor)),
        len(pool),
        sum(pool),
        time_sliced(executor, key=part),
    )


#: Forward / floor ratios whose budget outside the matmuls :func:`bounds` reports (the float32 speed
#: targets: Swin-T 1.5x, Swin-B 1.3x).
FLOOR_TARGETS = (1.5, 1.3)


def bounds(
    seconds: float,
    matmul_seconds: float,
    idle_seconds: float,
    floor_seconds: float,
    bf16_speedup: float | None = None,
    score_matmul_seconds: float = 0.0,
) -> dict:
    """What a profile allows, in seconds per forward.

    Args:
        seconds: the forward.
        matmul_seconds: its matmul kernels' wall time.
        idle_seconds: the time its cores sat idle (:func:`summarise`).
        floor_seconds: FLOPs / float32 matmul rate.
        bf16_speedup: bf16 / float32 matmul rate on this CPU (None: no bfloat16 bound).
        score_matmul_seconds: the wall time of the attention score matmuls among ``matmul_seconds``.
    Returns:
        ``outside_matmul_seconds`` (the forward minus its matmuls); ``outside_matmul_budget`` (per floor
        target ``"1.5x"``: the time outside matmuls a forward at that ratio may spend, with these matmuls;
        negative when the matmuls alone exceed it); ``batch_gain_ceiling`` (clips/s gain if batching
        removed all idle time and nothing else); ``bf16_gain_ceiling`` (float32 / bfloat16 time if the
        matmuls ran ``bf16_speedup`` times faster and everything else stayed, or None);
        ``bf16_float32_logits_gain_ceiling`` (the same with the score matmuls staying float32, as in a
        bfloat16 model with float32 attention logits, or None).
    """
    outside = seconds - matmul_seconds
    bf16_ceiling = logits_ceiling = None
    if bf16_speedup is not None:
        bf16_ceiling = seconds / (outside + matmul_seconds / bf16_speedup)
        sped_up = matmul_seconds - score_matmul_seconds
        logits_ceiling = seconds / (outside + score_matmul_seconds + sped_up / bf16_speedup)
    return {
        "outside_matmul_seconds": outside,
        "outside_matmul_budget": {f"{k}x": k * floor_seconds - matmul_seconds for k in FLOOR_TARGETS},
        "batch_gain_ceiling": seconds / max(seconds - idle_seconds, 1e-9),
        "bf16_gain_ceiling": bf16_ceiling,
        "bf16_float32_logits_gain_ceiling": logits_ceiling,
    }


def profile_once(fn, arg) -> tuple[float, Trace]:
    """``fn(arg)`` once under ``tf.profiler``: its wall seconds and its :class:`Trace`."""
    import tensorflow as tf

    logdir = Path(tempfile.mkdtemp(prefix="videoswin_profile_"))
    try:
        tf.profiler.experimental.start(str(logdir))
        start = time.perf_counter()
        fn(arg).numpy()
        seconds = time.perf_counter() - start
        tf.profiler.experimental.stop()
        trace = read_trace(logdir)
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    return seconds, trace


def by_category(per_op: collections.Counter) -> dict[str, float]:
    totals = collections.Counter()
    for op, value in per_op.items():
        totals[category(op)] += value
    return dict(totals.most_common())


def summarise(profiled: float, trace: Trace) -> dict:
    """Wall time by category, matmul wall time and idle time of one profiled run."""
    wall = by_category(trace.wall_seconds)
    no_kernel = max(0.0, profiled - sum(trace.wall_seconds.values()))
    if trace.pool_threads:
        # The cores' idle time: pool threads outside their work regions, per thread.
        idle = max(0.0, profiled - trace.pool_busy_seconds / trace.pool_threads)
    else:
        idle = no_kernel
    return {
        "profiled_seconds": profiled,
        "threads": trace.threads,
        "pool_threads": trace.pool_threads,
        "kernel_ms": sum(trace.kernel_ms.values()),
        "categories_ms": by_category(trace.kernel_ms),
        "categories_seconds": wall,
        "matmul_wall_seconds": sum(wall.get(name, 0.0) for name in MATMUL_CATEGORIES),
        "score_matmul_wall_seconds": sum(
            seconds
            for op, seconds in trace.wall_seconds.items()
            if op.removeprefix("_Mkl") in SCORE_MATMUL_OPS
        ),
        "no_kernel_seconds": no_kernel,
        "pool_busy_seconds": trace.pool_busy_seconds,
        "idle_seconds": idle,
    }


def profile_stages(model, video, rate: float, runs: int) -> list[dict]:
    """Each backbone stage timed and profiled on its own, on the input the earlier stages give it."""
    import tensorflow as tf

    backbone = model.backbone
    parts_macs = stage_macs(model.config, *video.shape[2:])

    def floor_seconds(macs: int) -> float:
        return 2 * macs * video.shape[0] / 1e9 / rate

    x = backbone.patch_embed(video)
    stages = []
    for i, layer in enumerate(backbone.layers):
        # Any grid size, as the stage runs inside an export (graph optimisation differs for a known one).
        spec = tf.TensorSpec([None, None, None, None, x.shape[-1]], tf.float32)
        stage = tf.function(lambda v, layer=layer: layer(v, training=False), input_signature=[spec])
        seconds = median_seconds(lambda s=stage, v=x: s(v).numpy(), runs)
        profiled, trace = profile_once(stage, x)
        summary = summarise(profiled, trace)
        parts = {
            label: {
                "wall_seconds": trace.part_seconds.get(label, 0.0),
                "floor_seconds": floor_seconds(sum(parts_macs[i][k] for k in keys)),
            }
            for label, (_, keys) in PARTS.items()
        }
        stages.append(
            {
                "stage": f"layers.{i}",
                "input_shape": list(x.shape),
                "blocks": len(layer.blocks),
                "seconds": seconds,
                "floor_seconds": floor_seconds(sum(parts_macs[i].values())),
                **summary,
                "outside_matmul_seconds": summary["profiled_seconds"] - summary["matmul_wall_seconds"],
                "parts": parts,
            }
        )
        x = stage(x)
    return stages


def run(
    variant: str,
    shape: tuple[int, ...],
    precision: str,
    runs: int,
    by_stage: bool = False,
    attention_precision: str = "float32",
) -> dict:
    import tensorflow as tf

    from tf_videoswin import build_model
    from tf_videoswin.export.savedmodel import VIDEO_SPEC

    cfg = get_variant(variant)
    model = build_model(cfg.name, precision=precision, attention_precision=attention_precision)
    video = tf.constant(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    forward = tf.function(lambda x: model(x, training=False)["logits"], input_signature=[VIDEO_SPEC])
    seconds = median_seconds(lambda: forward(video).numpy(), runs)
    profiled, trace = profile_once(forward, video)
    rate = max(matmul_gflops() for _ in range(3))
    bf16_speedup = None
    bf16_arithmetic = cpu_info()["bf16_arithmetic"]
    if precision == "float32" and bf16_arithmetic:
        bf16_speedup = max(matmul_gflops(dtype="bfloat16") for _ in range(3)) / rate
    work = gflop(cfg, *shape[2:]) * shape[0]
    summary = summarise(profiled, trace)
    result = {
        "variant": variant,
        "input_shape": list(shape),
        "precision": precision,
        "attention_precision": model.attention_precision,
        "seconds": seconds,
        "floor_seconds": work / rate,
        "matmul_gflops_per_second": rate,
        **summary,
        "bf16_arithmetic": bf16_arithmetic,
        "bf16_matmul_speedup": bf16_speedup,
        # From the profiled forward: its kernel times and idle time belong to it, not to the median.
        "bounds": bounds(
            profiled,
            summary["matmul_wall_seconds"],
            summary["idle_seconds"],
            work / rate,
            bf16_speedup,
            summary["score_matmul_wall_seconds"],
        ),
        "ops_ms": dict(trace.kernel_ms.most_common()),
        "ops_seconds": dict(trace.wall_seconds.most_common()),
    }
    if by_stage:
        result["stages"] = profile_stages(model, video, rate, runs)
    return result


def format_report(r: dict, top: int) -> str:
    profiled = r["profiled_seconds"]
    pool = f"idle {r['idle_seconds']:.3f} s"
    if r["pool_threads"]:
        worked = r["pool_busy_seconds"] / r["pool_threads"]
        pool = (
            f"its {r['pool_threads']} intra-op pool threads worked {worked:.3f} s each: cores idle {pool[5:]}"
        )
    attention = r.get("attention_precision", "float32")
    lines = [
        f"{r['variant']}  input {r['input_shape']}  precision {r['precision']}"
        + (f", attention {attention}" if attention != "float32" else ""),
        f"  forward {r['seconds']:.3f} s (median); floor {r['floor_seconds']:.3f} s "
        f"({r['seconds'] / r['floor_seconds']:.2f}x) at {r['matmul_gflops_per_second']:.1f} GFLOP/s",
        f"  profiled forward {profiled:.3f} s: no kernel running {r['no_kernel_seconds']:.3f} s; {pool}",
        f"  matmuls take {r['matmul_wall_seconds']:.3f} s wall (the floor assumes all FLOPs are matmuls "
        f"at the rate above: {r['floor_seconds']:.3f} s)",
        "",
        f"  {'what':<52} {'wall s':>8} {'share':>7} {'kernel ms':>10}",
    ]
    for name, seconds in r["categories_seconds"].items():
        if seconds < 0.001 * profiled:
            continue
        lines.append(
            f"  {name:<52} {seconds:8.3f} {seconds / profiled:7.1%} {r['categories_ms'].get(name, 0.0):10.1f}"
        )
    lines += ["", f"  top {top} op types:"]
    for op, seconds in list(r["ops_seconds"].items())[:top]:
        lines.append(f"  {op:<52} {seconds:8.3f} {seconds / profiled:7.1%} {r['ops_ms'].get(op, 0.0):10.1f}")
    b = r["bounds"]
    budgets = ", ".join(f"{s:.3f} s at {k} the floor" for k, s in b["outside_matmul_budget"].items())
    lines += [
        "",
        "  bounds from this profile:",
        f"  outside matmuls {b['outside_matmul_seconds']:.3f} s of the profiled "
        f"{profiled:.3f} s; with these matmuls a forward may spend {budgets}",
        f"  batching: at most {b['batch_gain_ceiling']:.2f}x clips/s if it removed all idle time (kernels "
        "grow with the clips)",
    ]
    if b["bf16_gain_ceiling"] is not None:
        lines += [
            f"  bfloat16: at most {b['bf16_gain_ceiling']:.2f}x float32 if only the matmuls sped up "
            f"(bf16 matmul {r['bf16_matmul_speedup']:.2f}x the float32 rate here; bf16 attention logits)",
            f"  bfloat16 with float32 attention logits (the default): at most "
            f"{b['bf16_float32_logits_gain_ceiling']:.2f}x float32 (its score matmuls, "
            f"{r['score_matmul_wall_seconds']:.3f} s here, stay float32)",
        ]
    elif not r["bf16_arithmetic"]:
        lines.append(
            "  bfloat16: this CPU has no bf16 arithmetic (AVX512_BF16 / AMX); TensorFlow emulates it: no gain"
        )
    if r.get("stages"):
        lines += ["", "  by stage (each timed and profiled on its own):", format_stages(r["stages"])]
    return "\n".join(lines)


def format_stages(stages: list[dict]) -> str:
    header = (
        f"  {'stage':<9} {'input':<22} {'blocks':>6} {'s':>7} {'floor s':>8} {'ratio':>6} "
        f"{'outside matmuls':>16} {'idle':>6}  largest outside matmuls"
    )
    lines = [header]
    for st in stages:
        rest = {k: v for k, v in st["categories_seconds"].items() if k not in MATMUL_CATEGORIES}
        largest = ", ".join(f"{k.split(' (')[0]} {v:.3f}" for k, v in list(rest.items())[:3])
        lines.append(
            f"  {st['stage']:<9} {'x'.join(map(str, st['input_shape'])):<22} {st['blocks']:>6} "
            f"{st['seconds']:7.3f} {st['floor_seconds']:8.3f} {st['seconds'] / st['floor_seconds']:6.2f} "
            f"{st['outside_matmul_seconds']:16.3f} {st['idle_seconds']:6.3f}  {largest}"
        )
    lines += [
        "",
        "  by part of each stage (wall s from the stage profiles above; floor: the part's FLOPs at the same "
        "rate):",
        f"  {'stage':<9} {'part':<22} {'wall s':>7} {'floor s':>8} {'ratio':>6}",
    ]
    for st in stages:
        for label, p in st["parts"].items():
            wall, floor = p["wall_seconds"], p["floor_seconds"]
            ratio = wall / floor if floor else float("nan")
            lines.append(f"  {st['stage']:<9} {label:<22} {wall:7.3f} {floor:8.3f} {ratio:6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="swin_tiny_patch244_window877_kinetics400_1k", choices=list(VARIANTS))
    p.add_argument("--shape", type=parse_shape, default=(1, 3, 32, 224, 224), help="B,3,T,H,W")
    p.add_argument("--precision", choices=PRECISIONS, default="float32")
    add_attention_precision_argument(p)
    p.add_argument("--runs", type=positive_int, default=3, help="timed forwards before the profiled one")
    p.add_argument("--top", type=positive_int, default=25, help="op types listed")
    p.add_argument(
        "--by-stage", action="store_true", help="also time and profile each backbone stage on its own"
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    check_attention_precision_argument(p, args)
    result = run(
        args.variant,
        args.shape,
        args.precision,
        args.runs,
        by_stage=args.by_stage,
        attention_precision=args.attention_precision,
    )
    print(json.dumps(result, indent=2) if args.json else format_report(result, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
