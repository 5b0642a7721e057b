"""Videos per second of feature extraction: local engine vs Ray Data with N model actors, one run.

    python benchmarks/extraction.py --model exports/<variant>/feature_extractor [--videos 8] [--num-actors 2]

Generates small mp4 files (moving squares), extracts single-view features with both engines (the same
folder layout) and checks the features are identical.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_videos(folder: Path, count: int) -> None:
    import av

    rng = np.random.default_rng(0)
    for i in range(count):
        frames = rng.integers(0, 255, (48, 64, 80, 3), dtype=np.uint8)
        with av.open(str(folder / f"v{i:03d}.mp4"), mode="w") as container:
            stream = container.add_stream("mpeg4", rate=24)
            stream.width, stream.height, stream.pix_fmt = 80, 64, "yuv420p"
            for frame in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="a feature_extractor export")
    p.add_argument("--videos", type=int, default=8)
    p.add_argument("--num-actors", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    from tf_videoswin import extract_features
    from tf_videoswin.features import read_features

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "videos"
        folder.mkdir()
        write_videos(folder, args.videos)
        common = [str(folder), "--model", str(args.model), "--no-progress"]
        start = time.perf_counter()
        assert extract_features.main([*common, "--out", f"{tmp}/local"]) == 0
        local_s = time.perf_counter() - start
        start = time.perf_counter()
        ray_argv = [*common, "--out", f"{tmp}/ray", "--engine", "ray", "--num-actors", str(args.num_actors)]
        assert extract_features.main(ray_argv) == 0
        ray_s = time.perf_counter() - start
        local = read_features(Path(tmp) / "local")
        ray_rows = read_features(Path(tmp) / "ray")
        identical = sorted(local) == sorted(ray_rows) and all(
            np.array_equal(local[k], ray_rows[k]) for k in local
        )
    result = {
        "videos": args.videos,
        "local_videos_per_s": args.videos / local_s,
        "ray_videos_per_s": args.videos / ray_s,
        "num_actors": args.num_actors,
        "ray_seconds_include_startup": True,
        "identical_features": identical,
    }
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
