"""The README's main job: get a checkpoint, convert it, check parity, export, reload with
``hub.KerasLayer`` and classify a clip.

    python -m porting.demo [--variant NAME] [--output-dir exports]

It first tries the upstream checkpoint (download into the cache). Where that is impossible
(no network), it says so loudly and uses a SYNTHETIC checkpoint: the variant's layout (official or
mmaction2) with random weights, so every step runs but the predictions mean nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from tf_videoswin.config import MEAN_RGB, STD_RGB
from tf_videoswin.console import add_verbose_argument, configure_logging
from tf_videoswin.variants import VARIANTS, get_variant, load_labels

BANNER = "!" * 100


def moving_square_clip(frames: int = 32, size: int = 224, seed: int = 0) -> np.ndarray:
    """A ``[1, 3, T, H, W]`` normalised clip of a bright square crossing a dark background."""
    rng = np.random.default_rng(seed)
    video = np.full((frames, size, size, 3), 30.0, np.float32) + rng.normal(0, 5, (frames, size, size, 3))
    side = size // 4
    for t in range(frames):
        x = int((size - side) * t / max(frames - 1, 1))
        video[t, size // 3 : size // 3 + side, x : x + side] = (230.0, 60.0, 40.0)
    video = (video - np.array(MEAN_RGB, np.float32)) / np.array(STD_RGB, np.float32)
    return video.transpose(3, 0, 1, 2)[None].astype(np.float32)


def obtain_checkpoint(name: str, cache_dir: Path | None) -> tuple[Path, bool]:
    """The upstream checkpoint if it can be had, else a synthetic one; ``(path, is_synthetic)``."""
    from porting.download import DownloadError, default_cache_dir, fetch_checkpoint
    from porting.synthetic import write_synthetic_checkpoint

    cfg = get_variant(name)
    try:
        path, _ = fetch_checkpoint(
            cfg.url, cache_dir, cfg.checkpoint_sha256, expected_sha256_prefix=cfg.checkpoint_sha256_prefix
        )
        return path, False
    except DownloadError as e:
        print(
            f"\n{BANNER}\nOFFLINE: the upstream checkpoint could not be downloaded ({e}).\n"
            f"Using a SYNTHETIC checkpoint instead: {cfg.layout} layout, RANDOM weights. Every step below\n"
            "runs for real, but the predictions are MEANINGLESS. Run again with network access (or\n"
            f"--checkpoint) for the real model.\n{BANNER}\n",
            flush=True,
        )
    path = (cache_dir or default_cache_dir()) / "synthetic" / f"{name}_synthetic_seed0.pth"
    if not path.is_file():
        write_synthetic_checkpoint(name, path, seed=0)
    return path, True


def main(argv: list[str] | None = None) -> int:
    """Run the README's main job; returns the exit code (that of convert.py if conversion fails)."""
    p = argparse.ArgumentParser(
        prog="python -m porting.demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--variant", default="swin_tiny_patch244_window877_kinetics400_1k", choices=list(VARIANTS))
    p.add_argument("--checkpoint", type=Path, help="use this .pth instead of downloading")
    p.add_argument("--output-dir", type=Path, default=Path("exports"))
    p.add_argument("--cache-dir", type=Path)
    add_verbose_argument(p)
    args = p.parse_args(argv)
    configure_logging(args.verbose)

    print(f"== 1/4 checkpoint for {args.variant}", flush=True)
    synthetic = False
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint, synthetic = obtain_checkpoint(args.variant, args.cache_dir)
    print(f"checkpoint: {checkpoint}{'  (SYNTHETIC, random weights)' if synthetic else ''}", flush=True)

    print("== 2/4 convert, check parity against reference_torch, export (porting/convert.py)", flush=True)
    cmd = [
        sys.executable,
        str(Path(__file__).with_name("convert.py")),
        "--variant",
        args.variant,
        "--checkpoint",
        str(checkpoint),
        "--output-dir",
        str(args.output_dir),
        "--overwrite",
        *(["--verbose"] if args.verbose else []),
    ]
    print("$ " + " ".join(cmd), flush=True)
    code = subprocess.call(cmd)
    if code != 0:
        print(f"conversion failed (exit {code})", file=sys.stderr)
        return code

    print("== 3/4 reload with hub.KerasLayer (tf_keras) and classify a 32x224x224 clip", flush=True)
    from tf_videoswin.optional import require

    hub = require("tensorflow_hub", "hub.KerasLayer")
    tf_keras = require("tf_keras", "hub.KerasLayer")

    export = args.output_dir / args.variant
    model = tf_keras.Sequential([hub.KerasLayer(str(export / "classifier"), trainable=False)])
    clip = moving_square_clip()
    probs = tf_keras.activations.softmax(model(clip)).numpy()[0]
    labels = load_labels(args.variant)
    if synthetic:
        print("(SYNTHETIC weights: these classes are noise)")
    for i in np.argsort(-probs)[:5]:
        print(f"  {probs[i]:.4f}  {labels[i]}")

    print("== 4/4 feature extractor at another clip size (16x112x112), no re-export", flush=True)
    features = hub.KerasLayer(str(export / "feature_extractor"))(moving_square_clip(16, 112))
    print(f"  pooled features: shape {tuple(features.shape)}")
    if synthetic:
        print(
            f"\n{BANNER}\nDone, on a SYNTHETIC checkpoint: the pipeline works; "
            "the predictions above mean nothing.\n"
            f"{BANNER}"
        )
    else:
        print(f"\nDone. Exports in {export}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
