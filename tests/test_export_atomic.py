"""Exports and files are atomic: a failure mid-write leaves the previous one untouched and nothing partial."""

import hashlib

import pytest

from porting import convert_cli
from tf_videoswin.errors import OutputWriteError
from tf_videoswin.export import writer
from tf_videoswin.files import (
    atomic_directory,
    atomic_write,
    atomic_write_text,
    replace_file,
    sha256_file,
    sha256_tree,
)

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


def test_a_failed_file_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "f.json"
    atomic_write_text(target, "old\n")

    def half_then_full_disk(tmp):
        tmp.write_text("half a fi")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputWriteError, match="No space left on device"):
        atomic_write(target, half_then_full_disk)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]

    def half_then_crash(tmp):  # not an I/O error: raised as is, the temporary still removed
        tmp.write_bytes(b"\0" * 10)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]
    assert atomic_write_text(target, "new\n").read_text() == "new\n"


def test_replace_file_publishes_a_finished_file(tmp_path):
    part = tmp_path / "x.pth.part"
    part.write_bytes(b"weights")
    assert replace_file(part, tmp_path / "x.pth").read_bytes() == b"weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pth"]


def test_digests_of_files_and_folders(tmp_path):
    data = bytes(range(256)) * 9000  # several chunks
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "sub" / "b.bin").write_bytes(data)
    (tmp_path / "d" / "a.txt").write_text("a")
    (tmp_path / "d" / "meta.json").write_text("{}")
    assert sha256_file(tmp_path / "d" / "sub" / "b.bin", chunk_size=1000) == hashlib.sha256(data).hexdigest()
    expected = hashlib.sha256()
    for rel, content in (("a.txt", b"a"), ("sub/b.bin", data)):
        expected.update(rel.encode() + b"\0" + hashlib.sha256(content).digest())
    assert sha256_tree(tmp_path / "d", exclude=("meta.json",)) == expected.hexdigest()
    assert sha256_tree(tmp_path / "d" / "a.txt") == hashlib.sha256(b"a").hexdigest()


@pytest.mark.slow  # ~25 s: a conversion interrupted while it writes
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
