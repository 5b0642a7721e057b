"""Shared fixtures: synthetic checkpoints in the official layout and the official golden outputs.

Both come from ``../shared/golden`` (the generator and outputs of the unmodified official code),
found next to the repository or through ``$VIDEOSWIN_GOLDEN_DIR``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import tf_videoswin  # noqa: F401  (first: its oneDNN default counts only before TensorFlow's import)

ROOT = Path(__file__).resolve().parents[1]
GOLDEN_DIR = Path(os.environ.get("VIDEOSWIN_GOLDEN_DIR", ROOT.parent / "shared" / "golden"))
TINY = "swin_tiny_patch244_window877_kinetics400_1k"
STHV2 = "swin_base_patch244_window1677_sthv2"
#: Test files in the order pytest-xdist's workers take them: whole files in collection order
#: (``--dist loadfile --no-loadscope-reorder``, see the Makefile), two to each worker at the start. The
#: first worker builds the shared Swin-T export (~100 s) in test_backends while the second proves parity,
#: which needs no export, so neither waits on the export's lock; then the longest files go first, so both
#: workers end together. Files not named here follow in their usual order. The order only schedules: it
#: selects and skips nothing.
LONGEST_FIRST = (
    "test_backends.py",
    "test_parity.py",
    "test_deploy_files.py",
    "test_keras_api.py",
    "test_benchmarks.py",
    "test_notebooks.py",
    "test_finetune_cli.py",
    "test_precision.py",
    "test_ray_engine.py",
    "test_library.py",
    "test_evaluate_cli.py",
    "test_training_benchmark.py",
    "test_mmaction2.py",
    "test_predict_cli.py",
    "test_checkpoint_intake.py",
    "test_cli.py",
    "test_hub.py",
    "test_export_atomic.py",
    "test_exit_codes.py",
    "test_deploy_graph.py",
    "test_engine.py",
    "test_training_loop.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    # A stable sort: the tests of a file keep their order.
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def _golden_missing() -> None:
    msg = f"golden data not found at {GOLDEN_DIR} (set VIDEOSWIN_GOLDEN_DIR)"
    if os.environ.get("CI"):
        pytest.fail(msg)  # CI always has shared/ next to the clone: never skip there
    pytest.skip(msg)


def require(module: str, extra: str):
    """``module``, imported; a failed import fails the test (or the file) that needs it instead of
    skipping it: ``make test`` installs every extra, so a missing or broken one is a broken build
    (``tensorflow_hub``, for one, fails to import where setuptools 81 removed ``pkg_resources``)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail(f"{module} does not import ({e}); pip install 'tf-videoswin[{extra}]'", pytrace=False)


@functools.cache
def _golden_module():
    path = GOLDEN_DIR / "golden_gen.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("golden_gen", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def golden_gen():
    module = _golden_module()
    if module is None:
        _golden_missing()
    return module


@functools.cache
def _synthetic_state_dict(variant: str) -> OrderedDict:
    return _golden_module().generate_numpy(variant, 0)


@pytest.fixture(scope="session")
def synthetic_state_dict(golden_gen):
    """``variant -> OrderedDict[str, np.ndarray]`` (seed 0, official key order), cached."""
    return _synthetic_state_dict


@pytest.fixture(scope="session")
def golden_outputs(golden_gen):
    def load(variant: str) -> dict[str, np.ndarray]:
        path = GOLDEN_DIR / "data" / f"golden_{variant}_small.npz"
        if not path.is_file():
            _golden_missing()
        with np.load(path) as data:
            return {k: data[k] for k in data.files}

    return load


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory, golden_gen) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def tiny_checkpoint(checkpoint_dir, golden_gen) -> Path:
    """The seed-0 synthetic Swin-T checkpoint as an official ``.pth`` file."""
    import torch

    path = checkpoint_dir / f"{TINY}.pth"
    if not path.exists():
        torch.save(golden_gen.generate_checkpoint(TINY, 0), path)
    return path


@pytest.fixture(scope="session")
def sthv2_checkpoint(checkpoint_dir, golden_gen) -> Path:
    """The seed-0 synthetic sthv2 (Swin-B, window 16x7x7) checkpoint as an official ``.pth`` file."""
    import torch

    path = checkpoint_dir / f"{STHV2}.pth"
    if not path.exists():
        torch.save(golden_gen.generate_checkpoint(STHV2, 0), path)
    return path


def _run_shared_dir(tmp_path_factory) -> Path:
    """A directory every pytest-xdist worker of this run shares (the parent of the workers' own
    temporary roots); without xdist, this process's temporary root."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory, tiny_checkpoint) -> Path:
    """``exports/<tiny>`` written by ``porting/convert.py`` from the synthetic checkpoint, with every
    Keras format (SavedModels, ``.keras``, ``.weights.h5``). Read-only for tests.

    Written once per run, not once per worker (a conversion takes ~100 s on 2 cores): the first worker
    to ask converts under a file lock, the others wait for it and reuse the folder."""
    from filelock import FileLock

    from porting import convert_cli
    from tf_videoswin.export import METADATA_FILE

    out = _run_shared_dir(tmp_path_factory) / "shared_exports"
    with FileLock(f"{out}.lock"):
        if not (out / TINY / METADATA_FILE).is_file():
            argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]
            assert convert_cli.main([*argv, "--formats", "savedmodel,keras,weights"]) == 0
    return out / TINY
