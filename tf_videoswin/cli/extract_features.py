"""Extract Video Swin features for many videos, resumably.

    python -m tf_videoswin.extract_features VIDEOS_DIR_OR_LIST --model exports/<variant>/feature_extractor \\
        --out features.npz [--views single|official] [--save-feature-map]

Local engine output: ``.npz`` with ``paths`` (video paths), ``pooled`` ``[N, C]`` (pooled features
averaged over views), ``variant`` and, with ``--save-feature-map``, ``feature_maps``
``[N, C, T', H', W']`` (averaged over views). The file is rewritten atomically as videos finish;
re-running skips videos already in it. Videos that fail are reported on stderr and in
``OUT.errors.json`` and skipped.

``--engine ray`` runs the same steps on Ray Data (``pip install .[ray]``): ``--out`` is then a
directory of Parquet parts with columns ``path``, ``variant``, ``pooled``; re-runs skip paths already
written; ``--address`` joins an existing cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..video.sampling import VIEW_MODES
from .common import (
    EXIT_INPUT,
    EXIT_OK,
    add_ray_arguments,
    add_verbose_argument,
    configure_logging,
    error,
    positive_int,
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tf_videoswin.extract_features",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", type=Path, help="a directory of videos (recursive) or a text file of paths")
    p.add_argument("--model", required=True, type=Path, help="a feature_extractor export folder")
    p.add_argument("--out", required=True, type=Path, help="output .npz")
    p.add_argument(
        "--views",
        choices=VIEW_MODES,
        default="single",
        help="single (default): one clip, centre crop; official: the test protocol's views",
    )
    p.add_argument("--batch-size", type=positive_int, default=4, help="views per forward pass")
    p.add_argument("--save-feature-map", action="store_true", help="also store [C, T', H', W'] per video")
    p.add_argument(
        "--flush-every", type=positive_int, default=8, help="rewrite the output every N finished videos"
    )
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: Ray Data (decode tasks + model actor pool), Parquet output",
    )
    add_ray_arguments(p)
    add_verbose_argument(p)
    return p


class FeatureStore:
    """Rows keyed by video path, persisted to one ``.npz`` with atomic rewrites."""

    def __init__(self, path: Path, variant: str) -> None:
        self.path = path
        self.variant = variant
        self.paths: list[str] = []
        self.pooled: list[np.ndarray] = []
        self.maps: list[np.ndarray] = []
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                if str(data["variant"]) != variant:
                    raise ValueError(f"{path} holds features of {data['variant']}, not {variant}")
                self.paths = [str(p) for p in data["paths"]]
                self.pooled = list(data["pooled"])
                self.maps = list(data["feature_maps"]) if "feature_maps" in data.files else []

        self._seen = set(self.paths)

    @property
    def has_feature_maps(self) -> bool:
        return bool(self.maps) and len(self.maps) == len(self.paths)

    def __contains__(self, video: str) -> bool:
        return video in self._seen

    def add(self, video: str, pooled: np.ndarray, feature_map: np.ndarray | None) -> None:
        self._seen.add(video)
        self.paths.append(video)
        self.pooled.append(pooled.astype(np.float32))
        if feature_map is not None:
            self.maps.append(feature_map.astype(np.float32))

    def save(self) -> None:
        arrays = {
            "paths": np.array(self.paths, dtype=str),
            "pooled": np.stack(self.pooled) if self.pooled else np.zeros((0, 0), np.float32),
            "variant": np.array(self.variant),
        }
        if self.has_feature_maps:
            arrays["feature_maps"] = np.stack(self.maps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".npz", dir=self.path.parent)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def main(argv: list[str] | None = None) -> int:
    """Extract pooled features (and optionally feature maps) of many videos with a feature_extractor export.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        The exit code: 0 when the run finished (videos that failed are listed and skipped), 2 on an
        unusable export, source or output.
    Example:
        >>> main(["videos/", "--model", "exports/<variant>/feature_extractor", "--out", "f.npz"])
        ... # doctest: +SKIP
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from tqdm import tqdm

    from ..errors import VideoError, VideoSwinError
    from ..export import serving as serving_lib
    from ..video import list_videos, load_views

    if args.engine == "ray":
        return _main_ray(args)
    try:
        videos = [str(v) for v in list_videos(args.source)]
        serving = serving_lib.load_serving(args.model, ("features", "pooled"))
        pre = serving.metadata.preprocessing
        store = FeatureStore(args.out, serving.metadata.variant)
    except (VideoSwinError, FileNotFoundError, ValueError, OSError) as e:
        error(e)
        return EXIT_INPUT
    if store.paths and store.has_feature_maps != args.save_feature_map:
        # Mixing rows with and without maps would drop the maps already computed from the file.
        have = "has" if store.has_feature_maps else "has no"
        error(
            f"{args.out} {have} feature_maps; run with{'' if store.has_feature_maps else 'out'} "
            "--save-feature-map to extend it, or write to another --out"
        )
        return EXIT_INPUT
    todo = [v for v in videos if v not in store]
    skipped = len(videos) - len(todo)
    errors_path = args.out.with_name(args.out.name + ".errors.json")
    errors: list[dict] = []
    pending = 0
    try:
        for video in tqdm(todo, unit="video", disable=args.no_progress, file=sys.stderr):
            try:
                views = load_views(video, pre, args.views)
            except VideoError as e:
                errors.append({"path": video, "error": str(e)})
                print(f"skipped: {e}", file=sys.stderr)
                continue
            pooled, maps = serving_lib.pooled_features(serving, views, args.batch_size)
            store.add(video, pooled, maps.mean(axis=0) if args.save_feature_map else None)
            pending += 1
            if pending >= args.flush_every:
                store.save()
                pending = 0
    finally:  # also on Ctrl-C or an unexpected error: keep every video already finished
        if pending or not args.out.exists():
            store.save()
    errors_path.write_text(json.dumps(errors, indent=2) + "\n", encoding="utf-8")
    print(
        f"{len(todo) - len(errors)} extracted, {skipped} already done (skipped), {len(errors)} failed "
        f"-> {args.out}"
    )
    return EXIT_OK


def _main_ray(args: argparse.Namespace) -> int:
    from ..errors import VideoSwinError
    from ..export.serving import load_serving
    from ..ray import extract_with_ray
    from ..video import list_videos

    if args.out.suffix == ".npz":
        error("with --engine ray, --out is a directory of Parquet parts, not an .npz")
        return EXIT_INPUT
    try:
        videos = [str(v) for v in list_videos(args.source)]
        metadata = load_serving(args.model, ("features", "pooled")).metadata  # fail fast, before Ray
        done, skipped, errors = extract_with_ray(
            videos,
            args.model,
            args.out,
            metadata.variant,
            metadata.preprocessing,
            args.views,
            args.batch_size,
            args.num_actors,
            args.address,
        )
    except (VideoSwinError, FileNotFoundError, OSError) as e:
        error(e)
        return EXIT_INPUT
    for e in errors:
        print(f"skipped: {e['error']}", file=sys.stderr)
    errors_path = args.out / "errors.json"
    errors_path.write_text(json.dumps(errors, indent=2) + "\n", encoding="utf-8")
    print(f"{done} extracted, {skipped} already done (skipped), {len(errors)} failed -> {args.out}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
