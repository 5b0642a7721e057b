"""Write ``official_recipes.json``: the training settings of each official Video Swin config, read from a
clone of https://github.com/SwinTransformer/Video-Swin-Transformer.

    python tests/data/make_official_recipes.py PATH/TO/Video-Swin-Transformer [--check]

The tests compare ``tf_videoswin.training.recipe.RECIPES`` with the JSON, so they need no clone; this script
is how the JSON was made and how to re-check it against a clone (``--check`` exits 1 on a difference).
Each entry keeps the config lines its values were read from.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the registry from the checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tf_videoswin.variants import OFFICIAL_VARIANTS

OUT = Path(__file__).with_name("official_recipes.json")
REPOSITORY = "https://github.com/SwinTransformer/Video-Swin-Transformer"
#: The official configs: the registry's official variants (one config file each).
NAMES = OFFICIAL_VARIANTS
#: value name -> (pattern whose last match in the config is the value, type)
PATTERNS = {
    "lr": (r"type='AdamW', lr=([0-9.e-]+)", float),
    "weight_decay": (r"weight_decay=([0-9.]+)", float),
    "update_interval": (r"update_interval=(\d+)", int),
    "total_epochs": (r"total_epochs = (\d+)", int),
    "warmup_epochs": (r"warmup_iters=([0-9.]+)", float),
    "videos_per_gpu": (r"videos_per_gpu=(\d+),\n    workers", int),
}


def _show(repo: Path, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True
    ).stdout


def _line_of(text: str, start: int) -> str:
    return text[text.rfind("\n", 0, start) + 1 : text.find("\n", start)].strip()


def read_config(repo: Path, commit: str, name: str) -> dict:
    path = f"configs/recognition/swin/{name}.py"
    text, files = _show(repo, commit, path), [path]
    if name.endswith("kinetics600_22k"):  # _base_ = the Kinetics-400 22K config, whose values it keeps
        base = "configs/recognition/swin/swin_base_patch244_window877_kinetics400_22k.py"
        text, files = _show(repo, commit, base) + text, [base, path]
    values, lines = {}, []
    for key, (pattern, kind) in PATTERNS.items():
        match = list(re.finditer(pattern, text))[-1]
        values[key] = kind(match.group(1))
        lines.append(_line_of(text, match.start()))
    train = text[text.index("train_pipeline") : text.index("val_pipeline")]
    values["flip_ratio"] = float(re.findall(r"flip_ratio=([0-9.]+)", train)[0])
    values["frame_uniform"] = "frame_uniform=True" in train
    values["random_erasing"] = (
        float(m.group(1)) if (m := re.search(r"RandomErasing', probability=([0-9.]+)", train)) else 0.0
    )
    values["randaugment"] = "RandAugment" in train
    values["label_smoothing"] = float(m.group(1)) if (m := re.search(r"smoothing=([0-9.]+)", text)) else 0.0
    values["decay_mult_zero"] = sorted(re.findall(r"'(\w+)': dict\(decay_mult=0\.\)", text))
    values["backbone_lr_mult"] = float(re.search(r"'backbone': dict\(lr_mult=([0-9.]+)\)", text).group(1))
    lines += [
        line.strip()
        for line in train.splitlines()
        if re.search(r"Flip|SampleFrames|RandomErasing|RandAugment", line)
    ]
    return {"files": files, "values": values, "lines": list(dict.fromkeys(lines))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("repo", type=Path, help="a clone (or bare mirror) of the official repository")
    p.add_argument("--commit", default="HEAD")
    p.add_argument("--check", action="store_true", help="compare with the JSON instead of writing it")
    args = p.parse_args(argv)
    commit = subprocess.run(
        ["git", "-C", str(args.repo), "rev-parse", args.commit], capture_output=True, text=True, check=True
    ).stdout.strip()
    data = {
        "repository": REPOSITORY,
        "commit": commit,
        "made_by": "tests/data/make_official_recipes.py",
        "configs": {name: read_config(args.repo, commit, name) for name in NAMES},
    }
    if args.check:
        same = json.loads(OUT.read_text())["configs"] == data["configs"]
        print("official_recipes.json matches" if same else "official_recipes.json differs", file=sys.stderr)
        return 0 if same else 1
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
