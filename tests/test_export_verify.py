"""Exports are checked against their metadata before anything reads them (size and sha256 of each file
read), and a damaged file is a named ExportFormatError (exit 2), never a TensorFlow traceback."""

from __future__ import annotations

import json
import shutil

import pytest

import tf_videoswin
from tf_videoswin import evaluate, extract_features, predict
from tf_videoswin.errors import ExportFormatError
from tf_videoswin.export import METADATA_FILE
from tf_videoswin.export import verify as verify_lib

from .videos import write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("verify_videos") / "clip.mp4", frames=12, height=32, width=32)


def _copy(src, dst):
    shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
    return dst


def _data_file(savedmodel):
    return next((savedmodel / "variables").glob("variables.data-*"))


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    path.write_bytes(bytes(data))


def _edit_recorded_sha256(folder, path_in_export):
    for meta in folder.rglob(METADATA_FILE):
        data = json.loads(meta.read_text())
        for f in data["files"]:
            if f["path"] == path_in_export:
                f["sha256"] = "0" * 64
        meta.write_text(json.dumps(data))


@pytest.fixture()
def classifier(tiny_export, tmp_path):
    """The classifier SavedModel copied on its own (with its metadata copy)."""
    return _copy(tiny_export / "classifier", tmp_path / "classifier")


def test_an_unchanged_export_verifies_and_a_second_load_hashes_nothing(tiny_export, monkeypatch):
    verify_lib._DIGESTS.clear()
    for path in (tiny_export, tiny_export / "classifier", tiny_export / "feature_extractor"):
        verify_lib.verify_export(path)
    verify_lib.verify_export(tiny_export / f"{tiny_export.name}.keras")

    def no_reading(*args, **kwargs):
        raise AssertionError("a cached digest was computed again")

    monkeypatch.setattr(verify_lib, "open", no_reading, raising=False)
    verify_lib.verify_export(tiny_export / "classifier")  # the cache answers: no file is read


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c: _truncate(_data_file(c)), "truncated or replaced"),
        (lambda c: _flip_last_byte(_data_file(c)), "modified or replaced"),
        (lambda c: _edit_recorded_sha256(c, "classifier"), "modified or replaced"),
    ],
    ids=["truncated-variables", "edited-variables", "edited-metadata-sha256"],
)
def test_predict_refuses_a_tampered_export(damage, message, classifier, video, capsys):
    damage(classifier)
    argv = [str(video), "--model", str(classifier), "--views", "single", "--no-progress"]
    assert predict.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(classifier) in err and message in err


def test_no_verify_loads_an_edited_export_and_names_an_unreadable_one(classifier, video, capsys):
    argv = [str(video), "--model", str(classifier), "--views", "single", "--no-progress", "--json"]
    _edit_recorded_sha256(classifier, "classifier")
    assert predict.main([*argv, "--no-verify"]) == 0  # edited on purpose: the user's call
    capsys.readouterr()
    _truncate(_data_file(classifier))  # TensorFlow's IndexError becomes a named error, exit 2
    assert predict.main([*argv, "--no-verify"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "cannot read the export" in err and "Traceback" not in err


def test_extract_features_refuses_a_truncated_export_and_writes_nothing(tiny_export, video, tmp_path, capsys):
    model = _copy(tiny_export / "feature_extractor", tmp_path / "feature_extractor")
    _truncate(_data_file(model))
    out = tmp_path / "features"
    for extra in ([], ["--no-verify"]):
        assert extract_features.main([str(video), "--model", str(model), "--out", str(out), *extra]) == 2
        assert "error: " in capsys.readouterr().err
        assert not out.exists()


def test_evaluate_refuses_a_tampered_export(classifier, video, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{video.name} 0\n")
    _flip_last_byte(_data_file(classifier))
    argv = [str(listing), "--model", str(classifier), "--out", str(tmp_path / "p.csv"), "--no-progress"]
    assert evaluate.main(argv) == 2
    assert "modified or replaced" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("fmt", ["weights", "keras"])
def test_from_pretrained_refuses_a_tampered_keras_file(fmt, tiny_export, tmp_path):
    root = tmp_path / tiny_export.name
    root.mkdir()
    shutil.copy2(tiny_export / METADATA_FILE, root / METADATA_FILE)
    suffix = ".weights.h5" if fmt == "weights" else ".keras"
    file = _copy(tiny_export / f"{tiny_export.name}{suffix}", root / f"{tiny_export.name}{suffix}")
    _truncate(file)
    with pytest.raises(ExportFormatError, match="truncated or replaced") as raised:
        tf_videoswin.from_pretrained(root)
    assert str(file) in str(raised.value)
    with pytest.raises(ExportFormatError, match="cannot read the export"):
        tf_videoswin.from_pretrained(root, verify=False)  # unreadable all the same: named, not a traceback


def test_from_pretrained_refuses_a_tampered_savedmodel_and_loads_it_without_verify(classifier):
    _edit_recorded_sha256(classifier, "classifier")
    with pytest.raises(ExportFormatError, match="modified or replaced"):
        tf_videoswin.from_pretrained(classifier)
    assert tf_videoswin.load_export_model(classifier, verify=False).config.num_classes == 400
    _truncate(_data_file(classifier))
    with pytest.raises(ExportFormatError, match="cannot read the export"):
        tf_videoswin.from_pretrained(classifier, verify=False)


def test_a_savedmodel_linked_folder_by_folder_verifies_as_its_files(tiny_export, tmp_path):
    """A SavedModel shown through links (``variables/`` a linked folder, as the long-video benchmark
    shows an export to older code) is checked through them, and a damaged file behind them is found."""
    linked = tmp_path / "classifier"
    linked.mkdir()
    for entry in (tiny_export / "classifier").iterdir():
        if entry.name != METADATA_FILE:  # the metadata is a copy of its own (never write through a link)
            (linked / entry.name).symlink_to(entry.resolve())
    shutil.copy(tiny_export / "classifier" / METADATA_FILE, linked / METADATA_FILE)
    verify_lib.verify_export(linked)
    copy = _copy(tiny_export / "classifier", tmp_path / "copy")
    data = next((copy / "variables").glob("variables.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    relinked = tmp_path / "relinked"
    relinked.mkdir()
    for entry in copy.iterdir():
        (relinked / entry.name).symlink_to(entry.resolve())
    with pytest.raises(ExportFormatError, match="truncated or replaced"):
        verify_lib.verify_export(relinked)
