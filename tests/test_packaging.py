"""The wheel and the sdist hold every module and data file; the installed wheel works outside the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, TINY

PACKAGES = ("tf_videoswin", "reference_torch", "porting")


def _tracked_files() -> list[str]:
    proc = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("not a git checkout")
    return [f for f in proc.stdout.splitlines() if (ROOT / f).is_file()]


def _package_files(files: list[str]) -> set[str]:
    """What the distributions must carry: every module and data file of the three packages."""
    return {f for f in files if f.split("/")[0] in PACKAGES and f.endswith((".py", ".txt"))}


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """A wheel and an sdist built (PEP 517 hooks of setuptools) from a copy of the tracked files."""
    src = tmp_path_factory.mktemp("src")
    for f in _tracked_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    out = src / "dist"
    code = (
        "import setuptools.build_meta as b\n"
        f"wheel = b.build_wheel({str(out)!r})\n"
        f"sdist = b.build_sdist({str(out)!r})\n"
        "print('BUILT', wheel, sdist)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel, sdist = next(line for line in proc.stdout.splitlines() if line.startswith("BUILT")).split()[1:]
    return {"wheel": out / wheel, "sdist": out / sdist, "files": _package_files(_tracked_files())}


def test_wheel_and_sdist_hold_every_module_and_label_file(dists):
    expected = dists["files"]
    assert any(f.startswith("tf_videoswin/model/layers/") for f in expected)
    assert any(f.startswith("tf_videoswin/labels/") for f in expected)
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        in_wheel = {n for n in wheel.namelist() if n.split("/")[0] in PACKAGES}
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        meta = wheel.read(metadata).decode()
    missing = sorted(expected - in_wheel)
    assert not missing, f"not in the wheel: {missing}"
    assert not any(n.startswith("tests/") for n in in_wheel)
    # Extras as documented: torch only for converting, with a lower bound and no exact pin.
    assert 'Requires-Dist: torch>=2.1; extra == "convert"' in meta
    assert "Requires-Dist: tensorflow" in meta and "torch==" not in meta
    with tarfile.open(dists["sdist"]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        in_sdist = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    missing = sorted((expected | {"pyproject.toml", "README.md"}) - in_sdist)
    assert not missing, f"not in the sdist {top}: {missing}"


@pytest.mark.slow  # ~25 s: the wheel installed into a folder of its own, converting outside the repository
def test_installed_wheel_imports_and_converts_outside_the_repo(dists, tmp_path):
    site = tmp_path / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", site,
         dists["wheel"]],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    script = f"""
import pathlib, sys
import tf_videoswin, porting, reference_torch
site = pathlib.Path({str(site)!r})
for m in (tf_videoswin, porting, reference_torch):
    assert pathlib.Path(m.__file__).is_relative_to(site), m.__file__
assert not any(p and pathlib.Path(p).resolve() == pathlib.Path({str(ROOT)!r}) for p in sys.path)
from porting.synthetic import write_synthetic_checkpoint
ckpt = write_synthetic_checkpoint({TINY!r}, pathlib.Path("tiny.pth"))
model = tf_videoswin.from_pretrained({TINY!r}, checkpoint=ckpt, verify=True)
print("labels", len(tf_videoswin.load_labels({TINY!r})), "version", tf_videoswin.__version__)
"""
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "labels 400" in proc.stdout
