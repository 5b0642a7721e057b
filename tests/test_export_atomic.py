"""Exports are atomic: a failure mid-write leaves the previous export untouched and nothing partial."""

import pytest

from porting import convert_cli
from tf_videoswin.export import writer
from tf_videoswin.export.files import atomic_directory

from .conftest import TINY


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "v"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"
    with pytest.raises(FileExistsError, match="--overwrite"), atomic_directory(target):
        pass
    with pytest.raises(RuntimeError), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "a.txt").write_text("second")
        raise RuntimeError("boom")
    assert (target / "a.txt").read_text() == "first"
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]


def test_interrupted_export_keeps_previous_export(
    tmp_path, tiny_export, tiny_checkpoint, monkeypatch, capsys
):
    out = tmp_path / "exports"
    out.mkdir()
    previous = out / TINY
    previous.mkdir()
    (previous / "marker.txt").write_text("previous export")
    real_save = writer.save_export  # the export writer shared by convert and finetune

    def save_then_die(model, kind, path, labels=None):
        real_save(model, kind, path, labels)
        if kind == "feature_extractor":
            raise OSError("disk full (simulated)")

    monkeypatch.setattr(writer, "save_export", save_then_die)
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out), "--overwrite"]
    assert convert_cli.main(argv) == 2
    assert "disk full (simulated)" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [TINY]
    assert sorted(p.name for p in previous.iterdir()) == ["marker.txt"]
