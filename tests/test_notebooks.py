"""Every notebook in notebooks/ runs top to bottom (nbclient), sharing one work folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import ROOT, require

nbformat = require("nbformat", "dev")
nbclient = require("nbclient", "dev")

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("notebooks")


def test_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_fine_tuning.ipynb",
        "03_other_input_shapes.ipynb",
        "04_features_temporal_head.ipynb",
        "05_keras_backends.ipynb",
    ]


# Every notebook converts a checkpoint or trains (~1.5-2 min each on 2 cores): all run in the slow tier,
# which ``make test`` and CI run after the default suite.
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, workdir: Path, monkeypatch):
    monkeypatch.setenv("VIDEOSWIN_NOTEBOOK_WORKDIR", str(workdir))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert os.environ.get("VIDEOSWIN_NOTEBOOK_WORKDIR") == str(workdir)
