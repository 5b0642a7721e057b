"""Sources for predict and extract_features: video files, directories, text lists, mixed; clear errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from tf_videoswin import extract_features, predict
from tf_videoswin.errors import VideoSourceError
from tf_videoswin.video import collect_videos, list_videos


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.mp4", "a.AVI", "sub/c.webm", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_one_video_file_is_a_source(tree):
    # 0.2 read an .mp4 source as a text list of paths (UnicodeDecodeError on real videos).
    video = tree / "b.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42\x92\xff")
    assert list_videos(video) == [video]
    # A named video that does not exist is listed: decoding reports it for that video alone.
    assert list_videos(tree / "later.mkv") == [tree / "later.mkv"]


def test_sources_mix_and_each_video_comes_once(tree):
    listing = tree / "list.txt"
    listing.write_text("b.mp4\nsub/c.webm\n", encoding="utf-8")
    videos = collect_videos([tree / "b.mp4", listing, tree / "sub"])
    assert videos == [tree / "b.mp4", tree / "sub" / "c.webm"]
    assert collect_videos([tree]) == [tree / "a.AVI", tree / "b.mp4", tree / "sub" / "c.webm"]


def test_unusable_sources_say_what_they_are(tree):
    binary = tree / "clip.bin"  # a video with an unknown extension, or any binary file
    binary.write_bytes(np.random.default_rng(0).bytes(2000) + b"\0")
    with pytest.raises(VideoSourceError, match=r"clip\.bin: neither a video .* \(binary content\)"):
        list_videos(binary)
    latin = tree / "list.lst"
    latin.write_bytes("caf\xe9.mp4\n".encode("latin-1"))
    with pytest.raises(VideoSourceError, match="not UTF-8 text"):
        list_videos(latin)
    with pytest.raises(VideoSourceError, match="no such file or directory"):
        list_videos(tree / "nope")
    assert issubclass(VideoSourceError, FileNotFoundError)  # callers of 0.2 caught FileNotFoundError


@pytest.mark.parametrize("app", [extract_features, predict])
def test_apps_exit_2_on_a_bad_source(app, tree, tmp_path, capsys):
    binary = tree / "weights.bin"
    binary.write_bytes(b"\x92\x00" * 100)
    argv = [str(binary), "--model", str(tmp_path / "no_model")]
    if app is extract_features:
        argv += ["--out", str(tmp_path / "out")]
    assert app.main(argv) == 2
    err = capsys.readouterr().err
    assert "weights.bin: neither a video" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_extract_features_refuses_file_names_for_the_folder(tmp_path, capsys):
    base = [str(tmp_path), "--model", str(tmp_path)]
    assert extract_features.main([*base, "--out", str(tmp_path / "features.parquet")]) == 2
    err = capsys.readouterr().err
    assert "directory of Parquet parts" in err and "--single-file" in err
    assert extract_features.main([*base, "--out", str(tmp_path / "f.npz")]) == 2
    assert "--format npz" in capsys.readouterr().err
    for extra, message in [
        (["--stride", "8"], "--stride: only with --snippets"),
        (["--snippets", "--views", "official"], "one centre crop"),
        (["--snippets", "--save-feature-map"], "--snippet-tokens"),
        (["--format", "npz", "--snippets"], "Parquet folder"),
        (["--format", "npz", "--engine", "ray"], "local engine only"),
        (["--single-file", str(tmp_path / "x.csv")], "name it .parquet"),
    ]:
        out = "f.npz" if "npz" in extra else "out"
        assert extract_features.main([*base, "--out", str(tmp_path / out), *extra]) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert not list(Path(tmp_path).glob("out*")) and not (tmp_path / "f.npz").exists()


def test_predict_takes_a_directory(tree, monkeypatch, capsys):
    """0.2 said "no such file" for a folder. (A stand-in model: only the sources are under test.)"""
    from types import SimpleNamespace

    from tf_videoswin.export import ExportMetadata
    from tf_videoswin.export import serving as serving_lib
    from tf_videoswin.variants import get_variant, load_labels

    from .videos import write_video

    cfg = get_variant("swin_tiny_patch244_window877_kinetics400_1k")
    meta = ExportMetadata(cfg.name, cfg.arch, cfg.preprocessing, tuple(load_labels(cfg)), cfg.dataset, {})
    fake = SimpleNamespace(metadata=meta, labels=list(meta.labels))
    monkeypatch.setattr(serving_lib, "load_serving", lambda export, outputs, verify=True: fake)
    monkeypatch.setattr(serving_lib, "predict_views", lambda s, views, b: np.full(400, 1 / 400))
    folder = tree / "clips"
    folder.mkdir()
    write_video(folder / "one.mp4", frames=12, height=32, width=32)
    write_video(folder / "two.mkv", frames=12, height=32, width=32)
    argv = [str(folder), "--model", "unused", "--views", "single", "--json", "--no-progress"]
    assert predict.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["video"] for r in doc["results"]] == [str(folder / "one.mp4"), str(folder / "two.mkv")]
