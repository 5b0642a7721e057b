"""Video file -> predict CLI -> JSON, and resumable feature extraction, on a converted export."""

import json

import numpy as np
import pytest

from tf_videoswin import extract_features, predict

from .videos import write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    good = [write_video(d / f"clip{i}.mp4", frames=40 + 8 * i, height=48, width=64, seed=i) for i in range(3)]
    bad = d / "corrupt.mp4"
    bad.write_bytes(np.random.default_rng(1).bytes(4000))
    return d, good, bad


def test_predict_json_top_k(tiny_export, videos, capsys):
    _, good, _ = videos
    argv = [
        str(good[0]),
        str(good[1]),
        "--model",
        str(tiny_export / "classifier"),
        "--views",
        "single",
        "--top-k",
        "3",
        "--json",
        "--no-progress",
    ]
    assert predict.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["video"] for r in doc["results"]] == [str(good[0]), str(good[1])]
    for r in doc["results"]:
        probs = [t["probability"] for t in r["top_k"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert all(isinstance(t["label"], str) and t["label"] for t in r["top_k"])
    assert doc["errors"] == []


def test_predict_reports_bad_video_and_keeps_good_ones(tiny_export, videos, capsys):
    _, good, bad = videos
    argv = [
        str(bad),
        str(good[0]),
        "--model",
        str(tiny_export / "classifier"),
        "--views",
        "single",
        "--json",
        "--no-progress",
    ]
    assert predict.main(argv) == 3  # one video failed, the other is reported
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert [r["video"] for r in doc["results"]] == [str(good[0])]
    assert doc["errors"][0]["video"] == str(bad) and "corrupt.mp4" in captured.err


def test_predict_bad_model_dir(tmp_path, videos, capsys):
    _, good, _ = videos
    assert predict.main([str(good[0]), "--model", str(tmp_path)]) == 2
    assert "not a SavedModel" in capsys.readouterr().err


def test_predict_needs_classifier_export(tiny_export, videos, capsys):
    _, good, _ = videos
    assert predict.main([str(good[0]), "--model", str(tiny_export / "feature_extractor")]) == 2
    assert "use the classifier export" in capsys.readouterr().err


@pytest.mark.slow  # ~25 s: three extraction runs over decoded videos
def test_extract_features_resumable_and_skips_bad_videos(tiny_export, videos, tmp_path, capsys):
    d, good, bad = videos
    out = tmp_path / "features.npz"
    argv = [
        str(d),
        "--model",
        str(tiny_export / "feature_extractor"),
        "--out",
        str(out),
        "--format",
        "npz",  # the 0.2 single-file archive, now behind an explicit option
        "--no-progress",
        "--save-feature-map",
    ]
    assert extract_features.main(argv) == 3
    captured = capsys.readouterr()
    assert "3 extracted, 0 already done (skipped), 1 failed" in captured.out
    with np.load(out) as data:
        assert sorted(data["paths"].tolist()) == sorted(str(p) for p in good)
        assert data["pooled"].shape == (3, 768) and np.isfinite(data["pooled"]).all()
        assert data["feature_maps"].shape == (3, 768, 16, 7, 7)
        first = data["pooled"].copy()
    errors = json.loads(out.with_name("features.npz.errors.json").read_text())
    assert [e["path"] for e in errors] == [str(bad)]
    # Re-run: nothing recomputed, nothing lost.
    assert extract_features.main(argv) == 3
    assert "0 extracted, 3 already done (skipped), 1 failed" in capsys.readouterr().out
    with np.load(out) as data:
        np.testing.assert_array_equal(data["pooled"], first)
    # A new video: one more row appended.
    write_video(d / "clip_new.mp4", frames=36, height=48, width=64, seed=9)
    assert extract_features.main(argv) == 3
    assert "1 extracted, 3 already done (skipped)" in capsys.readouterr().out
    with np.load(out) as data:
        assert len(data["paths"]) == 4
        np.testing.assert_array_equal(data["pooled"][:3], first)
    (d / "clip_new.mp4").unlink()


def test_extract_features_keeps_finished_videos_when_interrupted(videos, tmp_path, monkeypatch):
    from tf_videoswin.export import serving as inference

    _, good, _ = videos
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p) for p in good) + "\n", encoding="utf-8")
    out = tmp_path / "f.npz"
    calls = []

    def fake_features(serving, views, batch_size):  # a cheap stand-in model; the 2nd video is interrupted
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return views.mean(axis=(0, 2, 3, 4)), views.mean(axis=2, keepdims=True)

    from types import SimpleNamespace

    from tf_videoswin.export import ExportMetadata
    from tf_videoswin.variants import get_variant, load_labels

    cfg = get_variant("swin_tiny_patch244_window877_kinetics400_1k")
    meta = ExportMetadata(cfg.name, cfg.arch, cfg.preprocessing, tuple(load_labels(cfg)), cfg.dataset, {})
    monkeypatch.setattr(
        inference, "load_serving", lambda export, outputs, verify=True: SimpleNamespace(metadata=meta)
    )
    monkeypatch.setattr(inference, "pooled_features", fake_features)
    argv = [str(listing), "--model", str(tmp_path), "--out", str(out), "--format", "npz", "--no-progress"]
    with pytest.raises(KeyboardInterrupt):
        extract_features.main([*argv, "--flush-every", "100"])
    with np.load(out) as data:  # the video finished before the interruption was written out
        assert data["paths"].tolist() == [str(good[0])] and data["pooled"].shape == (1, 3)
    # Extending a file without feature maps with --save-feature-map would mix rows: refused.
    assert extract_features.main([*argv, "--save-feature-map"]) == 2


def test_extract_features_parquet_folder_by_default(tiny_export, videos, tmp_path, capsys):
    import pandas as pd

    d, good, bad = videos
    out = tmp_path / "features"
    model = str(tiny_export / "feature_extractor")
    argv = [str(d), "--model", model, "--out", str(out), "--no-progress", "--flush-every", "2"]
    assert extract_features.main(argv) == 3
    assert "3 extracted, 0 already done (skipped), 1 failed" in capsys.readouterr().out
    df = pd.read_parquet(out)
    assert sorted(df.path) == sorted(str(p) for p in good)
    assert np.stack(df.pooled).shape == (3, 768) and set(df.variant) == {tiny_export.name}
    assert len(list(out.glob("part-*.parquet"))) == 2  # --flush-every 2: a part per 2 finished videos
    assert [e["path"] for e in json.loads((out / "_errors.json").read_text())] == [str(bad)]
    # Re-run: nothing recomputed; one video file as the source (0.2 read it as a text list and crashed).
    assert (
        extract_features.main([str(good[0]), *argv[1:], "--single-file", str(tmp_path / "all.parquet")]) == 0
    )
    assert "0 extracted, 1 already done (skipped), 0 failed" in capsys.readouterr().out
    assert pd.read_parquet(tmp_path / "all.parquet").equals(df)


def test_extract_snippets_and_the_localization_layout(tiny_export, videos, tmp_path, capsys):
    import pandas as pd

    _, good, _ = videos  # clip0: 40 frames at 24 fps
    out = tmp_path / "snippets"
    argv = [
        str(good[0]),
        "--model",
        str(tiny_export / "feature_extractor"),
        "--out",
        str(out),
        "--no-progress",
    ]
    argv += ["--snippets", "--snippet-frames", "8", "--stride", "8", "--snippet-tokens", "--batch-size", "3"]
    assert extract_features.main(argv) == 0
    assert "1 extracted" in capsys.readouterr().out
    df = pd.read_parquet(out)
    # 40 frames, 8-frame snippets every 8 frames: 5 snippets at 0, 1/3, 2/3, 1, 4/3 s, each 1/3 s long.
    assert df.snippet_index.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(df.snippet_start, [0, 8 / 24, 16 / 24, 24 / 24, 32 / 24])
    np.testing.assert_allclose(df.snippet_end, [8 / 24, 16 / 24, 24 / 24, 32 / 24, 40 / 24])
    pooled = np.stack(df.pooled)
    tokens = np.stack([np.stack(t) for t in df.tokens])
    assert pooled.shape == (5, 768) and tokens.shape == (5, 4, 768)  # T/2 = 4 temporal tokens
    np.testing.assert_allclose(tokens.mean(axis=1), pooled, atol=1e-5)  # pooled = mean of the tokens
    feats = np.load(out / "_npy" / "clip0.npy")
    np.testing.assert_array_equal(feats, pooled)
    meta = json.loads((out / "_npy" / "clip0.json").read_text())
    assert (meta["fps"], meta["stride"], meta["span_frames"], meta["source_frames"]) == (24, 8, 8, 40)
    np.testing.assert_allclose(meta["snippet_start"], df.snippet_start)
    # Other snippet options on the same folder are refused instead of mixing rows.
    assert extract_features.main([*argv[:-7], "--snippets", "--stride", "4"]) == 2
    assert "stride" in capsys.readouterr().err
