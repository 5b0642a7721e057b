"""Time and peak memory of one long video, before and after streaming decode, in one run.

    python benchmarks/long_video.py [--frames 9000] [--size 320x240] [--views single|official] \\
        [--model exports/<variant>/feature_extractor] [--snippets] [--before aab1450] [--json]

Generates a video (a moving square on noise, mpeg4, 25 fps), then runs, each in a fresh process:

- ``decode``: ``tf_videoswin.video.load_views`` (decoding and the official sampling, resize, crops);
- ``extract`` (with ``--model``): ``extract_features`` on the video, ``--views`` as given: videos/s;
- ``snippets`` (with ``--model --snippets``, this checkout only): snippet features of the whole video
  (``--snippet-frames``, ``--stride``): snippets/s.

"before" is the code at ``--before`` (default ``aab1450``, the last commit that decoded every frame),
taken from git into a temporary folder, or a folder holding a ``tf_videoswin`` package; "after" is this
checkout. Peak RSS is the child's ``VmHWM``
(Linux). The views of both versions are compared: they must be identical.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tf_videoswin.config import Preprocessing  # noqa: E402  (pure Python: no TensorFlow in this process)

VARIANT = "swin_tiny_patch244_window877_kinetics400_1k"

_CHILD = textwrap.dedent(
    """
    import json, sys, time
    task = json.loads(sys.argv[1])
    import tf_videoswin
    start = time.perf_counter()
    result = {"code": tf_videoswin.__file__}
    if task["kind"] == "decode":
        import numpy as np
        from tf_videoswin.variants import get_variant
        from tf_videoswin.video import load_views
        views = load_views(task["video"], get_variant(task["variant"]).preprocessing, task["views"])
        np.save(task["save"], views)
        result["shape"] = list(views.shape)
    else:
        from tf_videoswin.cli.extract_features import main
        assert main(task["argv"]) == 0
    result["seconds"] = time.perf_counter() - start
    with open("/proc/self/status") as f:
        result["peak_rss_mb"] = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    print(json.dumps(result))
    """
)


def write_long_video(path: Path, frames: int, width: int, height: int, fps: int = 25) -> None:
    """A moving square on fixed noise, written frame by frame (never the whole video in memory)."""
    import av

    rng = np.random.default_rng(0)
    background = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    side = max(4, min(height, width) // 4)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            frame = background.copy()
            x = int((width - side) * (t % 250) / 249)
            frame[height // 3 : height // 3 + side, x : x + side] = (230, 60, 40)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def checkout(ref: str, into: Path) -> Path:
    """The ``tf_videoswin`` package at git ``ref``, extracted under ``into``; a folder that holds a
    ``tf_videoswin`` package is used as it is."""
    if (Path(ref) / "tf_videoswin" / "__init__.py").is_file():
        return Path(ref).resolve()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "tf_videoswin"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


#: Preprocessing fields added after the "before" version, with their defaults: the official pipeline,
#: what the old code always did. An export carrying them is shown to the old code without them.
NEWER_PIPELINE_FIELDS = {
    f.name: f.default for f in dataclasses.fields(Preprocessing) if f.name in ("clip_starts", "normalization")
}


def export_for_old_code(model: Path, into: Path) -> Path:
    """``model`` as the "before" code can read it: the same files (linked, not copied) with the
    preprocessing fields it predates removed from ``videoswin_metadata.json``.

    Raises:
        ValueError: the export asks for a pipeline the old code cannot run (e.g. mmaction2's).
    """
    into.mkdir()
    for entry in model.iterdir():
        if entry.name != "videoswin_metadata.json":
            (into / entry.name).symlink_to(entry.resolve())
    metadata = json.loads((model / "videoswin_metadata.json").read_text(encoding="utf-8"))
    pre = metadata["preprocessing"]
    for field, official in NEWER_PIPELINE_FIELDS.items():
        if pre.get(field, official) != official:
            raise ValueError(f"{model}: {field}={pre[field]!r}, which the 'before' code cannot run")
        pre.pop(field, None)
    (into / "videoswin_metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return into


def run_child(code_root: Path, task: dict) -> dict:
    """Run a task in a fresh interpreter that imports ``tf_videoswin`` from ``code_root``."""
    env = {**os.environ, "PYTHONPATH": str(code_root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(task)],
        cwd=code_root,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{task['kind']} failed in {code_root}:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = (code_root / "tf_videoswin" / "__init__.py").resolve()
    if Path(result["code"]).resolve() != expected:
        raise RuntimeError(f"the child imported {result['code']}, not {expected}")
    return result


def _knows_npz_format(code_root: Path) -> bool:
    """Whether the ``extract_features`` at ``code_root`` writes the ``.npz`` archive only on request
    (``--format npz``), as the code since the Parquet folder does; the decode-everything version always
    did."""
    app = code_root / "tf_videoswin" / "cli" / "extract_features.py"
    return app.is_file() and '"--format"' in app.read_text(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=9000)
    p.add_argument("--size", default="320x240", help="WIDTHxHEIGHT")
    p.add_argument("--views", choices=("single", "official"), default="single")
    p.add_argument("--model", type=Path, help="a feature_extractor export: also time extract_features")
    p.add_argument("--snippets", action="store_true", help="also time snippet features (this checkout)")
    p.add_argument("--snippet-frames", type=int, default=32)
    p.add_argument("--stride", type=int, default=16)
    p.add_argument(
        "--before",
        default="aab1450",
        help="git ref of the decode-everything version, or a folder holding a tf_videoswin package",
    )
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    if not Path("/proc/self/status").is_file():
        p.error("peak RSS is read from /proc/self/status (Linux)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = tmp / "long.mp4"
        start = time.perf_counter()
        write_long_video(video, args.frames, width, height)
        print(
            f"wrote {args.frames} frames {width}x{height} in {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
        listing = tmp / "videos.txt"  # a list file: the only source both versions accept
        listing.write_text(f"{video}\n", encoding="utf-8")
        (tmp / "before").mkdir()
        versions = {"before": checkout(args.before, tmp / "before"), "after": ROOT}
        result: dict = {
            "frames": args.frames,
            "size": [width, height],
            "views": args.views,
            "before": args.before,
        }
        for name, code_root in versions.items():
            task = {"kind": "decode", "video": str(video), "variant": VARIANT, "views": args.views}
            decode = run_child(code_root, {**task, "save": str(tmp / f"{name}.npy")})
            result[f"decode_{name}"] = {k: decode[k] for k in ("seconds", "peak_rss_mb")}
        result["views_identical"] = bool(
            np.array_equal(np.load(tmp / "before.npy"), np.load(tmp / "after.npy"))
        )
        if args.model is not None:
            models = {"before": export_for_old_code(args.model, tmp / "model_before"), "after": args.model}
            for name, code_root in versions.items():
                out = tmp / (f"{name}.npz" if name == "before" else f"{name}_features")
                argv = [str(listing), "--model", str(models[name]), "--out", str(out), "--views", args.views]
                if name == "before" and _knows_npz_format(code_root):  # the archive is an option there
                    argv += ["--format", "npz"]
                run = run_child(code_root, {"kind": "extract", "argv": [*argv, "--no-progress"]})
                result[f"extract_{name}"] = {
                    "videos_per_s": 1 / run["seconds"],
                    "seconds": run["seconds"],
                    "peak_rss_mb": run["peak_rss_mb"],
                }
            if args.snippets:
                out = tmp / "snippets"
                argv = [str(video), "--model", str(args.model), "--out", str(out), "--snippets"]
                argv += [
                    "--snippet-frames",
                    str(args.snippet_frames),
                    "--stride",
                    str(args.stride),
                    "--no-progress",
                ]
                run = run_child(ROOT, {"kind": "extract", "argv": argv})
                count = len(np.load(out / "_npy" / "long.npy"))
                result["snippets_after"] = {
                    "snippets": count,
                    "snippets_per_s": count / run["seconds"],
                    "seconds": run["seconds"],
                    "peak_rss_mb": run["peak_rss_mb"],
                }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0 if result["views_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
