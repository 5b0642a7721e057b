"""Time the exported TF SavedModel against reference_torch and other CPU runtimes on one clip, in one run.

    python benchmarks/inference.py --variant swin_tiny_patch244_window877_kinetics400_1k --batch 1
    python benchmarks/inference.py --variant ... --precision bfloat16 --compare openvino,onnxruntime --json

Both models get the same synthetic weights (official layout); the TF side is a classifier export in
``--precision`` written to a temporary directory (or --export DIR) and called through its serving
signature. Seconds are the median per forward after one warm-up call, every contestant timed in turns
(each round calls each contestant twice and times the second call, so a drift of the machine's speed falls
on all alike and no one pays for the caches another evicted); ratio = tf / torch.
With ``--precision bfloat16|float16`` the float32 export runs in the same rounds (its speed-up is reported);
with ``--attention-precision`` the same as ``--precision`` (attention logits and softmax in bf16/f16 too),
the export with float32 attention logits in that precision runs in them as well.
With ``--batch B`` above 1 the same export also runs on the first clip alone in the same rounds, so the
throughput gain of batching (clips/s at B over clips/s at 1) is a ratio measured in one run.

The same run measures this machine's arithmetic floor: the model's FLOPs (:mod:`tf_videoswin.model.flops`,
2 per MAC) divided by TensorFlow's sustained float32 matmul rate here (a Swin-shaped
``[12544, 384] x [384, 1536]`` matmul), i.e. the time no implementation built on these kernels can beat.
The rate is measured three times before and three times after the model timings and the best is kept, so
a noisy moment cannot lower the floor.

The script re-executes itself with glibc's malloc told to keep freed memory (:data:`MALLOC_TUNABLES`;
``--system-malloc`` keeps glibc's defaults): with the defaults, every forward whose tensors exceed glibc's
mmap threshold faults their pages in again, which cost ``reference_torch`` up to two thirds of its time
here and, in one process, slowed the contestant after it too. TensorFlow's own CPU allocator keeps its
memory either way.

``--backend jax,torch`` also times this port on Keras' JAX backend (its inference call is a ``jax.jit``
of the ``keras.ops`` forward) and PyTorch backend, each in a process of its own
(:mod:`backend_forward`, the same weights), in the same rounds; each row reports its max-abs difference
from reference_torch, and the targets are JAX within 1.5x of the TensorFlow SavedModel and PyTorch within
1.25x of reference_torch.

``--compare openvino,onnxruntime`` also times the official graph in those runtimes: ``reference_torch``
exported by ``torch.onnx.export`` (TorchScript exporter, opset 17), in OpenVINO at f32
(``INFERENCE_PRECISION_HINT=f32``) and, where the CPU has bf16 arithmetic, at bf16, and in ONNX Runtime;
each row also reports its max-abs difference from reference_torch. ``--public-port DIR`` times a checkout
of https://github.com/innat/VideoSwin, the public Keras port, on the same architecture and clip (its code
is imported from DIR, never copied here), on TensorFlow and, with ``--backend``, on each of those backends
in the same process as this port (jitted on JAX with the same XLA options); the target is this port no
slower than the public port on any backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import from the checkout and from benchmarks/
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend_forward import is_public_port_checkout, public_port_model

from tf_videoswin.config import PRECISIONS
from tf_videoswin.console import add_attention_precision_argument, check_attention_precision_argument
from tf_videoswin.cpu import onednn_enabled
from tf_videoswin.model.flops import gflop
from tf_videoswin.variants import VARIANTS, get_variant

COMPARE = ("openvino", "onnxruntime")
#: Keras backends ``--backend`` can time beside TensorFlow.
BACKENDS = ("jax", "torch")
#: Speed targets of the other backends: JAX against the TensorFlow export, PyTorch against reference_torch.
BACKEND_TARGETS = {"jax": ("tf", 1.5), "torch": ("torch", 1.25)}
#: Lowest pooled-feature cosine to float32 that counts as a faithful reduced-precision run.
DRIFT_COSINE_BOUND = 0.999

#: glibc malloc tunables under which freed memory stays in the process: blocks up to 4 GB come from the heap
#: instead of their own mmap (glibc's threshold otherwise adapts up to 32 MB only) and the heap top is not
#: trimmed. With glibc's defaults each reference_torch forward faults its tensors' pages in again (Swin-T
#: ~1.8x slower; docs/performance.md), while TensorFlow, whose CPU allocator keeps its own pool, runs at the
#: same speed either way. glibc reads them when a process starts, hence the re-execution (:func:`malloc_env`).
MALLOC_TUNABLES = {"MALLOC_MMAP_THRESHOLD_": str(4 * 2**30), "MALLOC_TRIM_THRESHOLD_": str(64 * 2**30)}


def malloc_state(environ: Mapping[str, str]) -> str:
    """``"tuned"`` when this process runs with every :data:`MALLOC_TUNABLES` name set, else ``"defaults"``."""
    return "tuned" if all(name in environ for name in MALLOC_TUNABLES) else "defaults"


def malloc_env(argv: list[str], environ: Mapping[str, str]) -> dict[str, str] | None:
    """The environment to re-execute the script with (``environ`` plus :data:`MALLOC_TUNABLES`; values
    already set win), or None where there is nothing to do: ``argv`` asks for ``--system-malloc`` (read by
    the script's own parser, so an abbreviation counts too), every tunable is set, or the C library is not
    glibc."""
    if build_parser().parse_args(argv).system_malloc or malloc_state(environ) == "tuned":
        return None
    if platform.libc_ver()[0] != "glibc":
        return None
    return {**MALLOC_TUNABLES, **environ}


def median_seconds(fn, runs: int) -> float:
    """Median seconds of ``runs`` calls of ``fn`` after one untimed warm-up call."""
    fn()  # warm-up (graph optimisation, allocator)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cpu_info() -> dict:
    """The CPU model and the features that decide float32 and bfloat16 speed (Linux /proc/cpuinfo)."""
    model, flags, ids = "unknown", set(), {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and model == "unknown":
                model = value.strip()
            elif key in ("cpu family", "model") and key not in ids:
                ids[key] = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    if len(ids) == 2:  # virtual machines often hide the marketing name ("AMD EPYC"); these identify it
        model = f"{model} (family {ids['cpu family']} model {ids['model']})"
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
    features = [f for f in wanted if f in flags]
    return {
        "model": model,
        "features": features,
        "bf16_arithmetic": "avx512_bf16" in flags or "amx_bf16" in flags,
        "amx": "amx_bf16" in flags,
        "cores": os.cpu_count(),
        # TensorFlow's oneDNN kernels (tf_videoswin turns them on where TensorFlow would not)
        "onednn": onednn_enabled(),
    }


def matmul_gflops(runs: int = 5, dtype: str = "float32") -> float:
    """Sustained GFLOP/s of a TF matmul the size of a Swin-T stage-2 MLP, in graph mode."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.cast(tf.constant(rng.standard_normal((12544, 384)).astype(np.float32)), dtype)
    b = tf.cast(tf.constant(rng.standard_normal((384, 1536)).astype(np.float32)), dtype)
    product = tf.function(lambda a, b: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
    seconds = median_seconds(lambda: product(a, b).numpy(), runs)
    return 2 * 12544 * 384 * 1536 / seconds / 1e9


def public_port_forward(checkout: Path, variant: str, video: np.ndarray):
    """A graph-mode forward of innat/VideoSwin's Keras backbone + pooling + dense head (random weights)."""
    import tensorflow as tf

    channels_last = np.ascontiguousarray(video.transpose(0, 2, 3, 4, 1))
    model = public_port_model(checkout, variant, channels_last.shape[1:])
    forward = tf.function(lambda x: model(x, training=False))
    tensor = tf.constant(channels_last)
    return lambda: forward(tensor).numpy()


def interleaved_medians(forwards: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds per call of each forward, timed in turns: one warm-up call each, then ``runs``
    rounds in which each forward is called twice and the second call is timed.

    Turns make a slow drift of the machine's speed (other tenants, clocks) fall on every contestant
    alike, so ratios hold even when absolute seconds move. The untimed call re-warms what the other
    contestants evicted: timing the first call after a switch charged one TF model ~10% for another
    model's turn (measured: bfloat16 over float32 1.19x timed right after the switch, 1.30x in
    blocks and 1.30x with the re-warm call).
    """
    for fn in forwards.values():
        fn()
    times: dict[str, list[float]] = {key: [] for key in forwards}
    for _ in range(runs):
        for key, fn in forwards.items():
            fn()
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(t) for key, t in times.items()}


def _compare_forwards(reference, variant: str, video: np.ndarray, expected: np.ndarray, which, cpu, folder):
    """Forwards of the official graph in OpenVINO and ONNX Runtime, and each one's max-abs difference
    from reference_torch (or why it cannot run)."""
    from formats import torch_onnx_file

    from tf_videoswin.export.deploy.runtimes import open_runner

    onnx = Path(folder) / torch_onnx_file(reference, variant, video.shape, Path(folder)).path
    plans = []
    if "openvino" in which:
        plans.append(("openvino", "openvino", "f32"))
        if cpu["bf16_arithmetic"]:
            plans.append(("openvino_bf16", "openvino", "bf16"))
    if "onnxruntime" in which:
        plans.append(("onnxruntime", "onnxruntime", None))
    forwards, rows = {}, {}
    for key, runtime, hint in plans:
        try:
            runner = open_runner(onnx, runtime, precision_hint=hint)
            logits = runner.run(video)["logits"]
        except Exception as e:  # a runtime that cannot run the graph is a finding, not a crash
            rows[f"{key}_error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
            continue
        rows[f"{key}_max_abs_diff"] = float(np.abs(logits - expected).max())
        forwards[key] = lambda r=runner: r.run(video)
    return forwards, rows


class BackendForward:
    """Forwards of this port on another Keras backend, served by ``backend_forward.py`` in a process
    of its own (Keras' backend is fixed per process); calling it runs one forward there and waits."""

    def __init__(
        self,
        backend: str,
        variant: str,
        weights: Path,
        video: Path,
        out: Path,
        public_port: Path | None = None,
    ) -> None:
        import subprocess

        script = Path(__file__).with_name("backend_forward.py")
        cmd = [sys.executable, str(script), "--variant", variant, "--weights", str(weights)]
        cmd += ["--video", str(video), "--out", str(out)]
        if public_port is not None:  # innat/VideoSwin on the same backend, in the same process
            cmd += ["--public-port", str(public_port)]
        env = {**os.environ, "KERAS_BACKEND": backend}
        self.process = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        if self.process.stdout.readline().strip() != "ready":
            self.close()
            raise RuntimeError(f"the {backend} backend's forward process failed to start (see its stderr)")
        self.logits = np.load(out)

    def __call__(self, which: str = "run") -> None:
        """One forward of this port (``"run"``) or of innat/VideoSwin (``"run public"``)."""
        self.process.stdin.write(which + "\n")
        self.process.stdin.flush()
        if self.process.stdout.readline().strip() != "done":
            raise RuntimeError("the backend's forward process stopped")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def run(
    variant: str,
    batch: int,
    runs: int,
    frames: int,
    size: int,
    export: Path | None,
    public_port: Path | None = None,
    precision: str = "float32",
    compare: tuple[str, ...] = (),
    attention_precision: str = "float32",
    backends: tuple[str, ...] = (),
) -> dict:
    import tensorflow as tf
    import torch

    from porting.pipeline import port_checkpoint
    from porting.synthetic import synthetic_checkpoint
    from tf_videoswin.export.savedmodel import save_export

    cpu = cpu_info()
    rates = [matmul_gflops() for _ in range(3)]
    cfg = get_variant(variant)
    ported = port_checkpoint(cfg, synthetic_checkpoint(cfg, seed=0)["state_dict"])
    torch_model = ported.reference
    torch.set_num_threads(os.cpu_count() or 1)
    shape = (batch, 3, frames, size, size)
    video = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    drift_cosine = 1.0
    model = ported.tf_model.with_precision(precision, attention_precision)
    if precision != "float32":
        exact = ported.tf_model(tf.constant(video), training=False)["pooled"].numpy()
        reduced = model(tf.constant(video), training=False)["pooled"].numpy()
        cos = (exact * reduced).sum(1) / np.linalg.norm(exact, axis=1) / np.linalg.norm(reduced, axis=1)
        drift_cosine = float(cos.min())
    with tempfile.TemporaryDirectory() as tmp:
        if backends:  # the float32 weights, for the other backends' processes
            ported.tf_model.save_weights(Path(tmp) / "model.weights.h5")
            np.save(Path(tmp) / "video.npy", video)
        exports = {"tf": export}
        if export is None:
            exports["tf"] = Path(tmp) / "classifier"
            save_export(model, "classifier", exports["tf"])
            if precision != "float32":  # the float32 export runs in the same rounds: a fair speed-up
                exports["tf_float32"] = Path(tmp) / "classifier_float32"
                save_export(ported.tf_model, "classifier", exports["tf_float32"])
            if attention_precision != "float32":  # and the same precision with float32 logits
                path = exports["tf_attention_float32"] = Path(tmp) / "classifier_attention_float32"
                save_export(ported.tf_model.with_precision(precision), "classifier", path)
        ported.tf_model = model = None
        tf_video = tf.constant(video)
        torch_video = torch.from_numpy(video)

        def serving_forward(serving, clip: tf.Tensor = tf_video):
            return lambda: serving(video=clip)["logits"].numpy()

        def torch_forward():
            with torch.no_grad():
                return torch_model(torch_video)["logits"].numpy()

        servings = {
            key: tf.saved_model.load(str(path)).signatures["serving_default"] for key, path in exports.items()
        }
        forwards = {key: serving_forward(serving) for key, serving in servings.items()}
        if batch > 1:  # the same loaded export on one clip, in the same rounds: the gain of batching
            forwards["tf_batch1"] = serving_forward(servings["tf"], tf_video[:1])
        forwards["torch"] = torch_forward
        expected = torch_forward()
        max_abs = float(np.abs(forwards["tf"]() - expected).max())
        extra = {}
        if public_port is not None:
            forwards["public_port"] = public_port_forward(public_port, variant, video)
        if compare:
            more, rows = _compare_forwards(torch_model, variant, video, expected, compare, cpu, tmp)
            forwards.update(more)
            extra.update(rows)
        servers = []
        for backend in backends:
            weights, clip = Path(tmp) / "model.weights.h5", Path(tmp) / "video.npy"
            logits = Path(tmp) / f"{backend}_logits.npy"
            server = BackendForward(backend, variant, weights, clip, logits, public_port)
            servers.append(server)
            forwards[f"keras_{backend}"] = server
            if public_port is not None:
                forwards[f"public_port_{backend}"] = lambda s=server: s("run public")
            extra[f"keras_{backend}_max_abs_diff"] = float(np.abs(server.logits - expected).max())
        try:
            seconds = interleaved_medians(forwards, runs)
        finally:
            for server in servers:
                server.close()
    tf_seconds, torch_seconds = seconds.pop("tf"), seconds.pop("torch")
    extra.update({f"{key}_seconds": value for key, value in seconds.items()})
    if "public_port_seconds" in extra:
        extra["public_port_ratio"] = extra["public_port_seconds"] / torch_seconds
        extra["tf_vs_public_port"] = tf_seconds / extra["public_port_seconds"]
    if "tf_float32_seconds" in extra:
        extra["speedup_vs_float32"] = extra["tf_float32_seconds"] / tf_seconds
    if "tf_attention_float32_seconds" in extra:
        extra["speedup_vs_attention_float32"] = extra["tf_attention_float32_seconds"] / tf_seconds
    for backend in backends:
        against, target = BACKEND_TARGETS[backend]
        base = tf_seconds if against == "tf" else torch_seconds
        extra[f"keras_{backend}_ratio"] = extra[f"keras_{backend}_seconds"] / base
        extra[f"keras_{backend}_target_met"] = extra[f"keras_{backend}_ratio"] <= target
        if f"public_port_{backend}_seconds" in extra:  # this port / innat's on the same backend
            vs = extra[f"keras_{backend}_vs_public_port"] = (
                extra[f"keras_{backend}_seconds"] / extra[f"public_port_{backend}_seconds"]
            )
            extra[f"keras_{backend}_public_port_target_met"] = vs <= 1.0
    if "tf_batch1_seconds" in extra:  # clips/s at this batch over clips/s at batch 1
        extra["batch_throughput_vs_batch1"] = batch * extra["tf_batch1_seconds"] / tf_seconds
    rates += [matmul_gflops() for _ in range(3)]
    peak = max(rates)
    if precision == "bfloat16":
        extra["matmul_bf16_gflops_per_second"] = max(matmul_gflops(dtype="bfloat16") for _ in range(2))
    work = gflop(cfg, frames, size, size) * batch
    parity_ok = max_abs <= 1e-4 if precision == "float32" else drift_cosine >= DRIFT_COSINE_BOUND
    parity_ok = parity_ok and all(extra[f"keras_{b}_max_abs_diff"] <= 1e-4 for b in backends)
    return {
        "variant": variant,
        "batch": batch,
        "input_shape": list(shape),
        "precision": precision,
        "attention_precision": attention_precision,
        "tf_seconds": tf_seconds,
        "torch_seconds": torch_seconds,
        "ratio": tf_seconds / torch_seconds,
        "tf_clips_per_second": batch / tf_seconds,
        "torch_clips_per_second": batch / torch_seconds,
        "max_abs_diff": max_abs,
        "drift_cosine": drift_cosine,
        "parity_ok": parity_ok,
        "gflop": work,
        "tf_gflops_per_second": work / tf_seconds,
        "matmul_peak_gflops_per_second": peak,
        "matmul_gflops_samples": rates,
        "floor_seconds": work / peak,
        "floor_ratio": work / peak / torch_seconds,
        "tf_floor_multiple": tf_seconds / (work / peak),
        "bf16_recommended": bf16_recommended(cpu, extra.get("matmul_bf16_gflops_per_second"), peak),
        **extra,
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
    }


def bf16_recommended(cpu: dict, bf16_rate: float | None, float32_rate: float) -> bool:
    """bfloat16 is worth running where the CPU has bf16 arithmetic and, when it was measured, TensorFlow's
    bf16 matmul beats its float32 one (seen: a KVM guest reporting AVX512_BF16 whose bf16 matmul ran at
    0.53x the float32 rate, OpenVINO's bf16 slower than its f32 as well)."""
    return bool(cpu["bf16_arithmetic"]) and (bf16_rate is None or bf16_rate > float32_rate)


def _names(text: str, choices: tuple[str, ...] = COMPARE, what: str = "runtime") -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = sorted(set(names) - set(choices))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what}(s) {unknown}; choose from {', '.join(choices)}")
    return names


def _backends(text: str) -> tuple[str, ...]:
    return _names(text, BACKENDS, "backend")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="swin_tiny_patch244_window877_kinetics400_1k", choices=list(VARIANTS))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (median reported)")
    p.add_argument("--frames", type=int, default=32)
    p.add_argument("--size", type=int, default=224)
    p.add_argument(
        "--precision", choices=PRECISIONS, default="float32", help="what the TF export computes in"
    )
    add_attention_precision_argument(
        p, "the dtype of its attention logits and softmax: float32 (default) or the same as --precision"
    )
    p.add_argument(
        "--compare",
        type=_names,
        default=(),
        metavar="RUNTIMES",
        help="also time the official graph (torch.onnx of reference_torch) in openvino,onnxruntime",
    )
    p.add_argument(
        "--backend",
        type=_backends,
        default=(),
        metavar="BACKENDS",
        help="also time this port on Keras' jax,torch backends (float32; each in its own process)",
    )
    p.add_argument(
        "--export", type=Path, help="an existing classifier export (default: export to a temp dir)"
    )
    p.add_argument(
        "--public-port",
        type=Path,
        metavar="DIR",
        help="a checkout of https://github.com/innat/VideoSwin to time in the same run",
    )
    p.add_argument(
        "--system-malloc",
        action="store_true",
        help="keep glibc's malloc defaults (by default the script re-executes itself with MALLOC_TUNABLES)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


ONEDNN_STATE = {True: "on", False: "off", None: "unknown"}


def format_report(r: dict) -> str:
    cpu = r["cpu"]
    attention = r.get("attention_precision", "float32")  # reports written before the option have none
    lines = [
        f"{r['variant']}  input {r['input_shape']}  precision {r['precision']}"
        + ("" if attention == "float32" else f", attention {attention}"),
        f"  CPU: {cpu['model']} ({cpu['cores']} cores; {', '.join(cpu['features']) or 'no AVX features'};"
        f" TensorFlow oneDNN {ONEDNN_STATE[cpu.get('onednn')]}; malloc {r.get('malloc', 'defaults')})",
        f"  TF SavedModel   {r['tf_seconds']:8.3f} s/forward  {r['tf_clips_per_second']:6.3f} clips/s",
        f"  reference_torch {r['torch_seconds']:8.3f} s/forward  {r['torch_clips_per_second']:6.3f} clips/s",
    ]
    for key, name in (
        ("openvino", "OpenVINO f32 (official graph)"),
        ("openvino_bf16", "OpenVINO bf16 (official graph)"),
        ("onnxruntime", "ONNX Runtime (official graph)"),
    ):
        if f"{key}_seconds" in r:
            seconds = r[f"{key}_seconds"]
            lines.append(
                f"  {name:<31} {seconds:8.3f} s/forward  TF/this {r['tf_seconds'] / seconds:.3f}"
                f"  max |diff| vs torch {r[f'{key}_max_abs_diff']:.2e}"
            )
        elif f"{key}_error" in r:
            lines.append(f"  {name:<31} cannot run: {r[f'{key}_error']}")
    if "tf_float32_seconds" in r:
        lines.append(
            f"  TF SavedModel, float32 {r['tf_float32_seconds']:8.3f} s/forward  "
            f"speed-up of {r['precision']} over float32: {r['speedup_vs_float32']:.2f}x"
        )
    if "tf_attention_float32_seconds" in r:
        lines.append(
            f"  TF SavedModel, {r['precision']} with float32 attention logits "
            f"{r['tf_attention_float32_seconds']:8.3f} s/forward  speed-up of {r['attention_precision']} "
            f"attention: {r['speedup_vs_attention_float32']:.2f}x"
        )
    if "tf_batch1_seconds" in r:
        one = r["tf_batch1_seconds"]
        lines.append(
            f"  TF SavedModel, batch 1 {one:8.3f} s/forward  {1 / one:6.3f} clips/s:"
            f" batch {r['batch']} gives {r['batch_throughput_vs_batch1']:.2f}x the clips/s"
        )
    for backend, name, against in (
        ("jax", "Keras on JAX (jit)", "TF"),
        ("torch", "Keras on PyTorch", "torch"),
    ):
        if f"keras_{backend}_seconds" in r:
            seconds, ratio = r[f"keras_{backend}_seconds"], r[f"keras_{backend}_ratio"]
            target = BACKEND_TARGETS[backend][1]
            met = "met" if r[f"keras_{backend}_target_met"] else "NOT met"
            lines.append(
                f"  {name:<31} {seconds:8.3f} s/forward  this/{against} {ratio:.3f}"
                f" (target <= {target}: {met})"
                f"  max |diff| vs torch {r[f'keras_{backend}_max_abs_diff']:.2e}"
            )
    if "public_port_seconds" in r:
        public, ratio = r["public_port_seconds"], r["public_port_ratio"]
        vs = f"  this/innat {r['tf_vs_public_port']:.3f}" if "tf_vs_public_port" in r else ""
        lines.append(f"  innat/VideoSwin {public:8.3f} s/forward  ratio to torch {ratio:.3f}{vs}")
    for backend, name in (("jax", "innat/VideoSwin on JAX (jit)"), ("torch", "innat/VideoSwin on PyTorch")):
        if f"public_port_{backend}_seconds" in r:
            met = "met" if r[f"keras_{backend}_public_port_target_met"] else "NOT met"
            lines.append(
                f"  {name:<31} {r[f'public_port_{backend}_seconds']:8.3f} s/forward"
                f"  this/innat {r[f'keras_{backend}_vs_public_port']:.3f} (target <= 1: {met})"
            )
    lines += [
        f"  ratio tf/torch  {r['ratio']:8.3f}",
        f"  {r['gflop']:.1f} GFLOP: TF at {r['tf_gflops_per_second']:.1f} GFLOP/s; TF float32 matmul peak "
        f"here {r['matmul_peak_gflops_per_second']:.1f} GFLOP/s (best of {len(r['matmul_gflops_samples'])}) "
        f"-> floor {r['floor_seconds']:.3f} s; TF = {r['tf_floor_multiple']:.2f}x floor",
    ]
    if "matmul_bf16_gflops_per_second" in r:
        gain = r["matmul_bf16_gflops_per_second"] / r["matmul_peak_gflops_per_second"]
        lines.append(
            f"  TF bfloat16 matmul {r['matmul_bf16_gflops_per_second']:.1f} GFLOP/s ({gain:.2f}x float32)"
        )
    if r["precision"] != "float32":
        lines.append(f"  drift vs float32: pooled cosine {r['drift_cosine']:.6f}")
        if r["precision"] == "bfloat16" and not r["bf16_recommended"]:
            if r["cpu"]["bf16_arithmetic"]:
                lines.append(
                    "  TensorFlow's bf16 matmul is no faster than float32 on this CPU: bfloat16 cannot"
                    " speed the model up here, not recommended"
                )
            else:
                lines.append(
                    "  this CPU has no bf16 arithmetic (AVX512_BF16 / AMX): bfloat16 is emulated,"
                    " not recommended"
                )
    status = "ok" if r["parity_ok"] else "FAIL"
    lines.append(f"  max |tf - torch| on logits {r['max_abs_diff']:.2e}  ({status})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.batch < 1 or args.runs < 1:
        p.error("--batch and --runs must be >= 1")
    check_attention_precision_argument(p, args)
    if args.backend and (args.precision != "float32" or args.export is not None):
        p.error(
            "--backend times the float32 model built from the synthetic weights: drop --precision/--export"
        )
    if args.public_port is not None and not is_public_port_checkout(args.public_port):
        p.error(f"--public-port {args.public_port}: not a checkout of innat/VideoSwin (no videoswin/)")
    result = run(
        args.variant,
        args.batch,
        args.runs,
        args.frames,
        args.size,
        args.export,
        args.public_port,
        args.precision,
        args.compare,
        args.attention_precision,
        args.backend,
    )
    result["malloc"] = malloc_state(os.environ)
    print(json.dumps(result) if args.json else format_report(result))
    return 0 if result["parity_ok"] else 1


if __name__ == "__main__":
    if (env := malloc_env(sys.argv[1:], os.environ)) is not None:
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    sys.exit(main())
