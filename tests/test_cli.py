"""What the command-line apps print and refuse: export metadata is required; TensorFlow stays quiet."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tf_videoswin import predict
from tf_videoswin.export import METADATA_FILE

from .conftest import ROOT
from .videos import write_video

#: Lines TensorFlow's C++ runtime prints at start-up (oneDNN notice, CUDA probes, cpu_feature_guard).
CHATTER = ("oneDNN custom operations", "cpu_feature_guard", "cuda", "absl::InitializeLog")


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("cli_videos") / "clip.mp4", frames=20, height=40, width=48)


@pytest.fixture()
def classifier_copy(tiny_export, tmp_path):
    """The classifier SavedModel alone, with its own copy of the metadata."""
    copy = tmp_path / "classifier"
    shutil.copytree(tiny_export / "classifier", copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", f"has no {METADATA_FILE}: not an export written by tf_videoswin"),
        ("corrupt", "not valid JSON"),
        ("newer", "schema version 99 is newer than this tf_videoswin reads"),
        ("incomplete", "missing fields ['architecture'"),
    ],
)
def test_predict_refuses_an_export_without_valid_metadata(damage, message, classifier_copy, video, capsys):
    meta = classifier_copy / METADATA_FILE
    if damage == "missing":
        meta.unlink()
    elif damage == "corrupt":
        meta.write_text("{ not json", encoding="utf-8")
    else:
        data = json.loads(meta.read_text())
        if damage == "newer":
            data["schema_version"] = 99
        else:
            del data["architecture"]
        meta.write_text(json.dumps(data), encoding="utf-8")
    argv = [str(video), "--model", str(classifier_copy), "--views", "single", "--no-progress"]
    assert predict.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_predict_works_from_a_savedmodel_copied_on_its_own(classifier_copy, video, capsys):
    argv = [str(video), "--model", str(classifier_copy), "--views", "single", "--json", "--no-progress"]
    assert predict.main(argv) == 0
    assert len(json.loads(capsys.readouterr().out)["results"][0]["top_k"]) == 5


def _run_predict(video, model, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "GLOG", "GRPC"))}
    cmd = [
        sys.executable,
        "-m",
        "tf_videoswin.predict",
        str(video),
        "--model",
        str(model),
        "--views",
        "single",
    ]
    return subprocess.run([*cmd, *extra], capture_output=True, text=True, cwd=ROOT, env=env)


@pytest.mark.slow  # ~30 s: predict in two fresh processes (their stderr is the point)
def test_apps_keep_tensorflow_quiet_unless_verbose(tiny_export, video):
    quiet = _run_predict(video, tiny_export / "classifier")
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert not [line for line in quiet.stderr.splitlines() if any(c in line for c in CHATTER)], quiet.stderr
    assert str(video) in quiet.stdout
    verbose = _run_predict(video, tiny_export / "classifier", "--verbose")
    assert verbose.returncode == 0
    assert "oneDNN custom operations" in verbose.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["porting/convert.py"],
        ["porting/check_parity.py"],
        ["-m", "tf_videoswin.predict"],
        ["-m", "tf_videoswin.extract_features"],
        ["-m", "porting.demo"],
        ["-m", "porting.synthetic"],
    ],
)
def test_documented_commands_answer_help_without_importing_tensorflow(command):
    runner = "run_module" if command[0] == "-m" else "run_path"
    code = (
        "import runpy, sys\n"
        f"sys.argv = [{command[-1]!r}, '--help']\n"
        "try:\n"
        f"    runpy.{runner}({command[-1]!r}, run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('tensorflow', 'torch') if m in sys.modules]\n"
        "assert not heavy, f'imported before --help: {heavy}'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


def test_stderr_filter_drops_glog_lines_and_keeps_the_rest():
    from tf_videoswin.console import filter_chunk

    chatter = (
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        b"I0000 00:00:1795567281.658070   10921 port.cc:153] oneDNN custom operations are on.\n"
        b"E0000 00:00:1795567285.568193   10921 cuda_platform.cc:52] failed call to cuInit\n"
        b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild\n"
    )
    ours = b"error: clip.mp4: no such file\nIt works\n"
    assert filter_chunk(chatter + ours) == (ours, b"")
    # A progress bar (no newline) passes at once; the start of a glog line waits for its end.
    assert filter_chunk(b"\r 40%|####      | 2/5") == (b"\r 40%|####      | 2/5", b"")
    assert filter_chunk(b"I0000 00:00:17") == (b"", b"I0000 00:00:17")
    assert filter_chunk(b"Important\n") == (b"Important\n", b"")
