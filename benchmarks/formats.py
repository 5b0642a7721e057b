"""Time every deployment file in every runtime that runs it, on the same clip, in one run.

    python benchmarks/formats.py --variant swin_tiny_patch244_window877_kinetics400_1k --shape 1,3,32,224,224
    python benchmarks/formats.py --export exports/<variant> --runs 5 --json

Without --export, the files are made first (in a temporary directory, or --keep DIR) from synthetic
weights in the official layout, exactly as ``porting/convert.py --formats tflite,onnx,openvino`` makes
them (each one proven against reference_torch). With --export, the deployment files listed in an
export's ``videoswin_metadata.json`` are timed.

Per file and runtime, in a fresh process each (so peak memory is that runtime's alone): seconds per
forward (median of --runs after one warm-up), clips/s, file size, peak RSS of the process (imports,
load and runs), and drift: max-abs difference of the file's logits (pooled features for feature
extractors) from the float32 LiteRT file of the same outputs (or, without one, the first float32 file),
on the same seeded clip. OpenVINO runs in f32 (``INFERENCE_PRECISION_HINT=f32``) and, for its IR, once
more with its CPU default precision (bf16 on CPUs that have it) to show what that default costs.

``--torch-onnx`` adds the alternative ONNX source for comparison: ``reference_torch`` exported with
``torch.onnx.export`` (TorchScript exporter, opset 17, dynamic batch; the dynamo exporter's ScatterND-20
is unreadable by OpenVINO), timed in ONNX Runtime and OpenVINO like the others. It is not proven and not
shipped: its drift column shows whether each runtime computes it faithfully.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: import from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tf_videoswin.console import parse_shape, positive_int
from tf_videoswin.export.deploy.targets import DEPLOY_FORMATS
from tf_videoswin.variants import VARIANTS


# ------------------------------------------------------------------------------------- child process
def _peak_rss_kb() -> int:
    """This process's peak resident memory. ``VmHWM`` belongs to the process image, while ``ru_maxrss``
    of a process started by fork + exec also counts its parent's memory at the fork."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child(args: list[str]) -> int:
    """``--child FILE RUNTIME HINT THREADS RUNS CLIP.npy OUT.npz``: time one file, print one JSON line."""
    path, runtime, hint, threads, runs, clip, out = args
    from tf_videoswin.export.deploy.runtimes import open_runner

    video = np.load(clip)
    start = time.perf_counter()
    runner = open_runner(path, runtime, threads=int(threads) or None, precision_hint=hint)
    load_seconds = time.perf_counter() - start
    outputs = runner.run(video)  # warm-up
    times = []
    for _ in range(int(runs)):
        start = time.perf_counter()
        runner.run(video)
        times.append(time.perf_counter() - start)
    np.savez(out, **outputs)
    peak_kb = _peak_rss_kb()
    result = {
        "runtime": runner.description,
        "load_seconds": load_seconds,
        "seconds": statistics.median(times),
        "peak_rss_mb": peak_kb / 1024,
    }
    print(json.dumps(result))
    return 0


def _time_file(path: Path, runtime: str, hint: str, threads: int, runs: int, clip: Path, out: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path), runtime, hint, str(threads)]
    cmd += [str(runs), str(clip), str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return {"error": lines[-1][-300:] if lines else f"exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------- files to time
def torch_onnx_file(reference, variant: str, shape: tuple[int, ...], folder: Path):
    """``reference_torch`` through ``torch.onnx.export`` (TorchScript, opset 17, dynamic batch), unproven."""
    import torch

    from tf_videoswin.export.metadata import ExportFile
    from tf_videoswin.files import sha256_file

    class Outputs(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, video):
            out = self.model(video)
            return out["logits"], out["features"], out["pooled"]

    path = folder / f"{variant}.model.Nx{'x'.join(map(str, shape[1:]))}.float32.torch_onnx.onnx"
    video = torch.zeros(shape)
    torch.onnx.export(
        Outputs(reference.eval()),
        (video,),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=["video"],
        output_names=["logits", "features", "pooled"],
        dynamic_axes={"video": {0: "batch"}},
    )
    details = {"input_shape": [None, *shape[1:]], "source": "reference_torch -> torch.onnx (TorchScript)"}
    return ExportFile(path.name, "onnx", sha256_file(path), path.stat().st_size, "model", details=details)


def make_files(
    variant: str, shape: tuple[int, ...], formats: list[str], folder: Path, torch_onnx: bool = False
) -> list:
    """Write the deployment files of synthetic weights into ``folder``; return their ExportFile entries
    (and, with ``torch_onnx``, the unproven torch.onnx file for comparison)."""
    from porting.export_plan import require_deploy_dependencies
    from porting.pipeline import deploy_request, port_checkpoint
    from porting.synthetic import synthetic_checkpoint
    from tf_videoswin.export.deploy.writer import write_deploy_files
    from tf_videoswin.metrics import DEFAULT_TOLERANCE

    require_deploy_dependencies(formats)
    ported = port_checkpoint(variant, synthetic_checkpoint(variant, seed=0)["state_dict"])
    request = deploy_request(ported, formats, shape, DEFAULT_TOLERANCE)
    extra = [torch_onnx_file(ported.reference, variant, shape, folder)] if torch_onnx else []
    ported.reference = None
    files = write_deploy_files(
        ported.tf_model, folder, variant, request.targets, request.parity, request.drift, request.tolerance
    )
    return files + extra


def export_files(export: Path, formats: list[str]) -> list:
    """The deployment files of ``formats`` an export's metadata lists."""
    from tf_videoswin.export.metadata import ExportMetadata

    files = [f for f in ExportMetadata.read(export).files if f.format in formats]
    if not files:
        raise FileNotFoundError(
            f"{export} lists no {'/'.join(formats)} files; convert with --formats {','.join(formats)} first"
        )
    return files


def _clip_shape(files: list, batch: int | None) -> tuple[int, ...]:
    """The clip every row runs on: the static shape of the files (a dynamic batch takes ``batch`` or 1)."""
    static = [f.details["input_shape"] for f in files if f.details.get("input_shape", [None])[0] is not None]
    shape = list(static[0] if static else files[0].details["input_shape"])
    if shape[0] is None:
        shape[0] = batch or 1
    return tuple(int(d) for d in shape)


def _rows(files: list) -> list[tuple]:
    """``(file, runtime, precision hint)`` to time, float32 LiteRT first (the drift baseline)."""
    from tf_videoswin.export.deploy.runtimes import RUNTIMES

    order = {"tflite": 0, "onnx": 1, "openvino": 2}
    files = sorted(files, key=lambda f: (order[f.format], f.precision != "float32", f.kind, f.path))
    rows = []
    for f in files:
        suffix = Path(f.path).suffix
        for runtime in RUNTIMES[suffix]:
            rows.append((f, runtime, "f32"))
        if suffix == ".xml":
            rows.append((f, "openvino", "bf16"))
    return rows


def _drift(outputs: dict[str, np.ndarray], baselines: dict[str, np.ndarray]) -> tuple[str, float | None]:
    name = "logits" if "logits" in outputs else "pooled"
    if name not in baselines:
        return name, None
    return name, float(np.abs(outputs[name].astype(np.float64) - baselines[name]).max())


def run(
    files: list,
    folder: Path,
    runs: int,
    threads: int,
    batch: int | None = None,
) -> dict:
    """Time every (file, runtime) row; see the module docstring."""
    shape = _clip_shape(files, batch)
    video = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    results = []
    baselines: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="videoswin-formats-") as tmp:
        clip = Path(tmp) / "clip.npy"
        np.save(clip, video)
        for i, (f, runtime, hint) in enumerate(_rows(files)):
            out = Path(tmp) / f"out{i}.npz"
            timing = _time_file(folder / f.path, runtime, hint, threads, runs, clip, out)
            row = {"file": f.path, "format": f.format, "kind": f.kind, "size_mb": f.size_bytes / 1e6}
            if "error" in timing:  # e.g. the unproven torch.onnx file in ONNX Runtime
                results.append({**row, "runtime": runtime, "error": timing["error"]})
                continue
            with np.load(out) as data:
                outputs = {k: data[k] for k in data.files}
            proven = not f.details.get("source", "").startswith("reference_torch")
            if proven and f.precision == "float32" and hint == "f32":
                for name in ("logits", "pooled"):
                    if name in outputs:
                        baselines.setdefault(name, outputs[name].astype(np.float64))
            compared, drift = _drift(outputs, baselines)
            results.append(
                {
                    **row,
                    "precision": f.precision if hint == "f32" else f"{f.precision} weights, bf16 compute",
                    "runtime": timing["runtime"],
                    "seconds": timing["seconds"],
                    "clips_per_second": shape[0] / timing["seconds"],
                    "load_seconds": timing["load_seconds"],
                    "peak_rss_mb": timing["peak_rss_mb"],
                    "drift_output": compared,
                    "drift_max_abs_vs_float32": drift,
                }
            )
    return {"input_shape": list(shape), "runs": runs, "threads": threads or None, "rows": results}


def format_table(result: dict) -> str:
    lines = [
        f"clip {result['input_shape']}, median of {result['runs']} runs, "
        f"threads {result['threads'] or 'default'}",
        f"{'file':<60} {'runtime':<28} {'s/fwd':>8} {'clips/s':>8} {'MB':>8} {'RSS MB':>8} {'drift':>9}",
    ]
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"{r['file'][-60:]:<60} {r['runtime'][:28]:<28} FAILED: {r['error'][:120]}")
            continue
        drift = "-" if r["drift_max_abs_vs_float32"] is None else f"{r['drift_max_abs_vs_float32']:.2e}"
        lines.append(
            f"{r['file'][-60:]:<60} {r['runtime'][:28]:<28} {r['seconds']:>8.3f} "
            f"{r['clips_per_second']:>8.3f} {r['size_mb']:>8.1f} {r['peak_rss_mb']:>8.0f} {drift:>9}"
        )
    lines.append("drift: max abs of logits (pooled for feature extractors) vs the float32 LiteRT file")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="formats.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    source = p.add_mutually_exclusive_group()
    source.add_argument(
        "--variant",
        default="swin_tiny_patch244_window877_kinetics400_1k",
        choices=list(VARIANTS),
        help="make the files from synthetic weights of this variant (default)",
    )
    source.add_argument("--export", type=Path, help="time the deployment files of this export instead")
    p.add_argument(
        "--shape",
        type=parse_shape,
        default=(1, 3, 32, 224, 224),
        help="B,3,T,H,W of the files made from synthetic weights (default: 1,3,32,224,224)",
    )
    p.add_argument(
        "--formats",
        default=",".join(DEPLOY_FORMATS),
        help="formats to make or, with --export, to time (default: tflite,onnx,openvino)",
    )
    p.add_argument(
        "--torch-onnx",
        action="store_true",
        help="also time reference_torch exported by torch.onnx (the ONNX source not chosen), for comparison",
    )
    p.add_argument("--keep", type=Path, help="write the files made into this folder (default: a temp dir)")
    p.add_argument("--batch", type=positive_int, help="batch for exports with only dynamic-batch files")
    p.add_argument("--runs", type=positive_int, default=3, help="timed runs after one warm-up (median)")
    p.add_argument("--threads", type=int, default=0, help="CPU threads per runtime (default: its own)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child(argv[1:])
    p = build_parser()
    args = p.parse_args(argv)
    from tf_videoswin.console import configure_logging, error

    configure_logging(False)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(DEPLOY_FORMATS))
    if unknown or not formats:
        p.error(f"--formats: expected some of {','.join(DEPLOY_FORMATS)}, got {args.formats!r}")
    if args.export is not None and (args.torch_onnx or args.keep):
        p.error("--torch-onnx and --keep go with files made from --variant, not with --export")
    from tf_videoswin.errors import VideoSwinError

    try:
        if args.export is not None:
            files, folder = export_files(args.export, formats), args.export
            result = run(files, folder, args.runs, args.threads, args.batch)
        else:
            with tempfile.TemporaryDirectory(prefix="videoswin-deploy-files-") as tmp:
                folder = args.keep or Path(tmp)
                folder.mkdir(parents=True, exist_ok=True)
                files = make_files(args.variant, args.shape, formats, folder, args.torch_onnx)
                result = run(files, folder, args.runs, args.threads, args.batch)
    except (VideoSwinError, FileNotFoundError) as e:
        error(e)
        return 2
    result["variant"] = args.variant if args.export is None else str(args.export)
    result["cpu_count"] = os.cpu_count()
    print(json.dumps(result) if args.json else format_table(result))
    # A proven file that does not run is a failure; the unproven torch.onnx comparison may fail.
    failed = [r for r in result["rows"] if "error" in r and ".torch_onnx." not in r["file"]]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
