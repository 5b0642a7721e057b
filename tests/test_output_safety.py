"""One writer per output, temporaries of killed runs removed by the next run, and full disks named.

Items 3, 5 and 6 of issue 40: a second writer on a feature folder, a predictions file, an export or a
fine-tuning work dir is refused (exit 2, the holder's pid named); readers keep one row per video of
a folder that older runs filled twice; the next run removes a dead run's temporaries (the lock tells
them from a live run's) and says so; ENOSPC in any writer is a named error, exit 2, with nothing
half-written and the previous output intact.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tf_videoswin import evaluate, extract_features
from tf_videoswin.errors import OutputBusyError, OutputWriteError
from tf_videoswin.files import atomic_directory
from tf_videoswin.output_lock import OutputLock, lock_file_for

from .videos import write_video

ROOT = Path(__file__).resolve().parents[1]
ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _hold(code: str) -> subprocess.Popen:
    """A Python process running ``code`` (which prints ``ready`` once it holds what it holds)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _hold_lock(output: Path, inside: bool) -> subprocess.Popen:
    return _hold(
        f"""
        import sys
        from tf_videoswin.output_lock import OutputLock, lock_file_for
        OutputLock({str(output)!r}, lock_file_for({str(output)!r}, inside={inside})).acquire()
        print("ready", flush=True)
        sys.stdin.read()
        """
    )


def _end(proc: subprocess.Popen) -> None:
    proc.kill()  # SIGKILL: the kernel releases its flock, as for a crashed run
    proc.wait()


# ------------------------------------------------------------------------------------ the lock itself
def test_a_second_lock_is_refused_naming_the_holder_and_free_once_released(tmp_path):
    out = tmp_path / "out"
    first = OutputLock(out, lock_file_for(out, inside=True)).acquire()
    with pytest.raises(OutputBusyError, match=rf"pid {os.getpid()} on .*one writer per output"):
        OutputLock(out, lock_file_for(out, inside=True)).acquire()
    first.release()
    assert not lock_file_for(out, inside=True).exists()  # no litter
    with OutputLock(out, lock_file_for(out, inside=True)):
        pass


def test_a_killed_holder_releases_the_lock(tmp_path):
    out = tmp_path / "out"
    proc = _hold_lock(out, inside=True)
    try:
        with pytest.raises(OutputBusyError, match=f"pid {proc.pid} "):
            OutputLock(out, lock_file_for(out, inside=True)).acquire()
    finally:
        _end(proc)
    with OutputLock(out, lock_file_for(out, inside=True)):
        pass


# ------------------------------------------------------------------------------ feature folders (3, 6)
@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("safety_videos")
    for i in range(2):
        write_video(d / f"c{i}.mp4", frames=12, height=32, width=32, seed=i)
    return d


def _extract(tiny_export, source, out, *extra):
    model = str(tiny_export / "feature_extractor")
    return extract_features.main([str(source), "--model", model, "--out", str(out), "--no-progress", *extra])


def test_two_writers_on_one_feature_folder_give_every_video_once(
    tiny_export, clips, tmp_path, capsys, caplog
):
    import pandas as pd

    out = tmp_path / "features"
    out.mkdir()
    proc = _hold_lock(out, inside=False)  # another extract_features at work on this folder
    try:
        assert _extract(tiny_export, clips, out) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and f"pid {proc.pid}" in err and "one writer per output" in err
        assert not list(out.glob("part-*.parquet"))
    finally:
        _end(proc)
    # Its killed run left a half-written part; the next run removes it, says so, and writes each video once.
    stale = out / ".part-000001-deadbeef.parquet.12345-abcdef12.tmp"
    stale.write_bytes(b"half a part")
    with caplog.at_level(logging.WARNING):
        assert _extract(tiny_export, clips, out) == 0
    assert f"removed {stale}" in caplog.text and not stale.exists()
    assert _extract(tiny_export, clips, out) == 0  # and a second run adds nothing
    assert "0 extracted, 2 already done" in capsys.readouterr().out
    assert sorted(pd.read_parquet(out).path) == sorted(str(p) for p in clips.glob("*.mp4"))


def test_readers_keep_one_row_per_video_of_a_folder_filled_twice(tiny_export, clips, tmp_path, capsys):
    from tf_videoswin.features import read_table

    out = tmp_path / "features"
    assert _extract(tiny_export, clips, out) == 0
    (part,) = out.glob("part-*.parquet")
    shutil.copy(part, out / "part-000002-0lderrun.parquet")  # what two writers of an older version left
    assert read_table(out).num_rows == 2
    single = tmp_path / "all.parquet"
    assert _extract(tiny_export, clips, out, "--single-file", str(single)) == 0
    assert "0 extracted, 2 already done" in capsys.readouterr().out
    import pyarrow.parquet as pq

    assert sorted(pq.read_table(single).column("path").to_pylist()) == sorted(
        str(p) for p in clips.glob("*.mp4")
    )


def test_a_full_disk_while_writing_features_is_named_and_keeps_the_old_parts(
    tiny_export, clips, tmp_path, capsys, monkeypatch
):
    import pyarrow.parquet as pq

    out = tmp_path / "features"
    first = clips / "c0.mp4"
    assert _extract(tiny_export, first, out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real = pq.write_table

    def full_disk(table, where, *args, **kwargs):
        real(table, where, *args, **kwargs)  # half written, then the disk is full
        raise ENOSPC

    monkeypatch.setattr(pq, "write_table", full_disk)
    assert _extract(tiny_export, clips, out) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "No space left on device" in err and "Traceback" not in err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == {k: v for k, v in before.items() if k != "_errors.json"} | {
        k: v for k, v in after.items() if k == "_errors.json"
    }
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------------- evaluate (3, 5)
def test_a_second_evaluate_on_one_predictions_file_is_refused(tiny_export, clips, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("c0.mp4 0\nc1.mp4 1\n")
    out = tmp_path / "pred.csv"
    argv = [str(listing), "--model", str(tiny_export), "--data-root", str(clips), "--out", str(out)]
    argv += ["--views", "single", "--no-progress", "--json"]
    with OutputLock(out, lock_file_for(out, inside=False)):
        assert evaluate.main(argv) == 2
    assert f"pid {os.getpid()}" in capsys.readouterr().err
    assert not out.exists()
    assert evaluate.main(argv) == 0


def test_a_full_disk_cuts_a_partial_prediction_row(tmp_path, monkeypatch):
    from tf_videoswin.evaluation import store as store_lib

    out = tmp_path / "pred.csv"
    store = store_lib.CsvPredictionStore(out)
    store.add(store_lib.Prediction("a.mp4", 0, (0, 1), (0.6, 0.4)))
    before = out.read_bytes()

    class HalfWrite:
        def __init__(self, path, *args, **kwargs):
            self.f = open(path, *args, **kwargs)  # noqa: SIM115

        def write(self, text):
            self.f.write(text[: len(text) // 2])
            self.f.flush()
            raise ENOSPC

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(store_lib, "open", HalfWrite, raising=False)
    with pytest.raises(OutputWriteError, match="No space left on device"):
        store.add(store_lib.Prediction("b.mp4", 1, (1, 0), (0.7, 0.3)))
    assert out.read_bytes() == before  # whole rows only


# ------------------------------------------------------------------------- exports, checkpoints (5, 6)
def _fill(folder: Path, text: str) -> None:
    (folder / "file.txt").write_text(text)


def test_an_export_being_written_is_refused_and_a_killed_ones_temporaries_removed(tmp_path, caplog):
    target = tmp_path / "exports" / "model"
    target.mkdir(parents=True)
    _fill(target, "old")
    proc = _hold(
        f"""
        import pathlib, sys
        from tf_videoswin.files import atomic_directory
        with atomic_directory(pathlib.Path({str(target)!r}), overwrite=True) as tmp:
            (tmp / "big.bin").write_bytes(b"0" * 1000)
            print("ready", flush=True)
            sys.stdin.read()
        """
    )
    try:
        (live,) = target.parent.glob(".model.tmp-*")
        with (
            pytest.raises(OutputBusyError, match=f"pid {proc.pid} "),
            atomic_directory(target, overwrite=True),
        ):
            pass
        assert live.is_dir()  # a live run's temporary is left alone
    finally:
        _end(proc)  # kill -9 in the middle of writing
    assert live.is_dir() and (target / "file.txt").read_text() == "old"
    with caplog.at_level(logging.WARNING), atomic_directory(target, overwrite=True) as tmp:
        _fill(tmp, "new")
    assert not live.exists() and "removed" in caplog.text and str(live) in caplog.text
    assert (target / "file.txt").read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model"]


def test_an_export_moved_aside_by_a_killed_run_is_restored(tmp_path):
    parent = tmp_path / "exports"
    parent.mkdir()
    aside = parent / ".model.old-4242"  # killed between its two renames: no "model" left
    aside.mkdir()
    _fill(aside, "old")
    with pytest.raises(RuntimeError), atomic_directory(parent / "model", overwrite=True):
        raise RuntimeError("this run fails too")
    assert (parent / "model" / "file.txt").read_text() == "old" and not aside.exists()


def test_a_full_disk_while_writing_an_export_is_named_and_keeps_the_old_one(tmp_path):
    import tensorflow as tf

    target = tmp_path / "model"
    target.mkdir()
    _fill(target, "old")
    saving = tf.errors.ResourceExhaustedError(None, None, "tmp/variables.data-00000-of-00001.tempstate; "
                                              "No space left on device [Op:SaveV2]")  # fmt: skip
    for failure in (ENOSPC, saving):
        named = pytest.raises(OutputWriteError, match=f"{target}: cannot write: No space left on device")
        with named, atomic_directory(target, overwrite=True) as tmp:
            _fill(tmp, "half")
            raise failure
        assert (target / "file.txt").read_text() == "old"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_convert_exits_2_on_a_full_disk(monkeypatch, capsys):
    from porting import convert_cli

    def full(*args, **kwargs):
        raise OutputWriteError("exports/x: cannot write: No space left on device")

    monkeypatch.setattr(convert_cli, "_convert_one", full)
    argv = ["--variant", "swin_tiny_patch244_window877_kinetics400_1k", "--checkpoint", "x.pth"]
    assert convert_cli.main(argv) == 2
    assert "No space left on device" in capsys.readouterr().err


def test_a_killed_fine_tunes_half_checkpoint_is_removed_and_a_live_run_refused(tmp_path, caplog):
    from tf_videoswin.cli import finetune
    from tf_videoswin.training.checkpoint import CHECKPOINTS, remove_stale_temporaries

    work = tmp_path / "out.train"
    half = work / CHECKPOINTS / ".iter-000000008.tmp-k9x2"
    half.mkdir(parents=True)
    (half / "model.weights.h5").write_bytes(b"half")
    complete = work / CHECKPOINTS / "iter-000000004"
    complete.mkdir()
    with caplog.at_level(logging.WARNING):
        assert remove_stale_temporaries(work) == [half]
    assert not half.exists() and complete.is_dir() and "removed" in caplog.text

    proc = _hold_lock(work, inside=False)  # a live fine-tune of this work dir
    try:
        argv = [str(tmp_path / "data"), "--variant", "swin_tiny_patch244_window877_kinetics400_1k"]
        argv += ["--epochs", "1", "--output-dir", str(tmp_path / "out")]
        assert finetune.main(argv) == 2
    finally:
        _end(proc)


def test_a_killed_conversions_temporary_goes_even_when_the_export_is_up_to_date(
    tiny_export, tiny_checkpoint, caplog, capsys
):
    from porting import convert_cli

    stale = tiny_export.parent / f".{tiny_export.name}.tmp-killed9"
    stale.mkdir()
    (stale / "saved_model.pb").write_bytes(b"half an export")
    argv = ["--variant", tiny_export.name, "--checkpoint", str(tiny_checkpoint)]
    with caplog.at_level(logging.WARNING):
        assert convert_cli.main([*argv, "--output-dir", str(tiny_export.parent)]) == 0
    assert "is up to date" in capsys.readouterr().out
    assert not stale.exists() and f"removed {stale}" in caplog.text


def test_a_second_writer_of_ray_predictions_is_refused_before_ray_starts(tmp_path, monkeypatch):
    from tf_videoswin.features import ray_engine

    def no_ray(*args, **kwargs):
        raise AssertionError("Ray started although the output is taken")

    monkeypatch.setattr(ray_engine, "_RayRuntime", no_ray)
    out = tmp_path / "pred"
    out.mkdir()
    request = {"model": tmp_path, "output": out, "variant": "v", "preprocessing": None, "labels": None}
    (out / ".part-1.parquet.4242-deadbeef.tmp").write_bytes(b"half")
    with OutputLock(out, lock_file_for(out, inside=True)):
        with pytest.raises(OutputBusyError, match=f"pid {os.getpid()} "):
            ray_engine.predict_with_ray(["a.mp4"], **request)
        assert (out / ".part-1.parquet.4242-deadbeef.tmp").exists()  # the live writer's own
    with pytest.raises(AssertionError, match="Ray started"):
        ray_engine.predict_with_ray(["a.mp4"], **request)
    assert not (out / ".part-1.parquet.4242-deadbeef.tmp").exists()  # a dead writer's: removed
