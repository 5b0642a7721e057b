"""Wall time, peak memory and graph size of converting one variant (load, port, parity, export).

    python benchmarks/conversion.py --variant swin_base_patch244_window1677_sthv2 [--checkpoint PATH] [--json]
    python benchmarks/conversion.py \\
        --variant swin-large-p244-w877_in22k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb

The conversion runs ``porting/convert.py`` in a child process. Without --checkpoint a synthetic checkpoint
in the variant's layout (official or mmaction2) is written to a temp dir first (not timed, not counted).
Peak RSS is the child's maximum resident set size (getrusage); graph size is each SavedModel's
``saved_model.pb`` (the traced graph, without the variables).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tf_videoswin.export.metadata import EXPORT_KINDS
from tf_videoswin.variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", default="swin_base_patch244_window1677_sthv2", choices=list(VARIANTS))
    p.add_argument("--checkpoint", type=Path)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            from porting.synthetic import write_synthetic_checkpoint

            checkpoint = write_synthetic_checkpoint(args.variant, Path(tmp) / f"{args.variant}.pth")
        cmd = [
            sys.executable,
            str(ROOT / "porting" / "convert.py"),
            "--variant",
            args.variant,
            "--checkpoint",
            str(checkpoint),
            "--output-dir",
            str(Path(tmp) / "exports"),
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        export = Path(tmp) / "exports" / args.variant
        graph_mb = {
            kind: (export / kind / "saved_model.pb").stat().st_size / 1e6
            for kind in EXPORT_KINDS
            if (export / kind / "saved_model.pb").is_file()
        }
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = {
        "variant": args.variant,
        "seconds": seconds,
        "peak_rss_gb": peak_kib / 1024**2,
        "graph_mb": graph_mb,
        "exit_code": proc.returncode,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(proc.stdout.strip())
        graphs = ", ".join(f"{kind} {mb:.2f} MB" for kind, mb in graph_mb.items()) or "none written"
        print(
            f"conversion of {args.variant}: {seconds:.1f} s wall, peak RSS {result['peak_rss_gb']:.2f} GB, "
            f"saved_model.pb: {graphs}, exit {proc.returncode}"
        )
    if proc.returncode:
        print(proc.stderr[-3000:], file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
