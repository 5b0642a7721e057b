"""The feature folder: appended per batch, resumable, readable by pandas, ordinary permissions, npy layout."""

import json
import os
import stat
from fractions import Fraction

import numpy as np
import pytest

from tf_videoswin.errors import FeatureStoreError
from tf_videoswin.features import (
    FeatureManifest,
    NpzFeatureStore,
    ParquetFeatureStore,
    SnippetFeatures,
    VideoFeatures,
    check_unique_ids,
    export_file,
    from_bytes,
    part_files,
    read_table,
)
from tf_videoswin.video import SnippetSpec, SnippetTimeline

from .conftest import require

pd = require("pandas", "ray")
pa = require("pyarrow", "video")
pq = require("pyarrow.parquet", "video")

VARIANT = "swin_tiny_patch244_window877_kinetics400_1k"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def video_result(i: int, with_map: bool = False) -> VideoFeatures:
    rng = np.random.default_rng(i)
    pooled = rng.standard_normal(6).astype(np.float32)
    fmap = rng.standard_normal((6, 2, 3, 3)).astype(np.float32) if with_map else None
    return VideoFeatures(f"/videos/v{i}.mp4", pooled, fmap)


def snippet_result(name: str, frames: int, spec: SnippetSpec, tokens: bool = False) -> SnippetFeatures:
    timeline = SnippetTimeline.build(spec, frames, Fraction(25), frames)
    rng = np.random.default_rng(frames)
    pooled = rng.standard_normal((timeline.count, 6)).astype(np.float32)
    toks = rng.standard_normal((timeline.count, spec.frames // 2, 6)).astype(np.float32) if tokens else None
    return SnippetFeatures(f"/videos/{name}.mp4", pooled, toks, timeline)


def test_parts_are_appended_never_rewritten_and_read_as_one_table(tmp_path):
    out = tmp_path / "features"
    manifest = FeatureManifest(VARIANT, "video", views="single", feature_map=True)
    store = ParquetFeatureStore(out, manifest).open()
    for i in range(3):
        store.add(video_result(i, with_map=True))
    store.flush()
    first = part_files(out)
    assert len(first) == 1
    before = (first[0].stat().st_ino, first[0].stat().st_mtime_ns)
    store.add(video_result(3, with_map=True))
    store.flush()
    store.flush()  # nothing pending: no empty part
    parts = part_files(out)
    assert len(parts) == 2 and parts[0] == first[0]
    assert (parts[0].stat().st_ino, parts[0].stat().st_mtime_ns) == before  # untouched
    store.write_errors([{"path": "/videos/bad.mp4", "error": "bad"}])
    # Ordinary permissions (mkstemp would give 0600), and nothing half-written left behind.
    expected_mode = 0o666 & ~_umask()
    for f in [*parts, out / "_manifest.json", out / "_errors.json"]:
        assert stat.S_IMODE(f.stat().st_mode) == expected_mode, f
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    # The folder is one table for pandas and pyarrow (the _-prefixed files are skipped).
    df = pd.read_parquet(out)
    assert df.path.tolist() == [f"/videos/v{i}.mp4" for i in range(4)]
    assert (
        list(df.columns)
        == manifest.columns
        == ["path", "variant", "pooled", "feature_map", "feature_map_shape"]
    )
    np.testing.assert_array_equal(np.stack(df.pooled), np.stack([video_result(i).pooled for i in range(4)]))
    row = df.iloc[1]
    np.testing.assert_array_equal(
        np.reshape(row.feature_map, row.feature_map_shape), video_result(1, with_map=True).feature_map
    )
    assert pq.read_table(out).schema == read_table(out).schema
    # Resume: a new store over the folder knows what is done.
    again = ParquetFeatureStore(out, manifest)
    assert "/videos/v3.mp4" in again and "/videos/v9.mp4" not in again
    # One file on request.
    single = export_file(out, tmp_path / "all.parquet")
    assert pd.read_parquet(single).equals(df)


def test_other_options_or_foreign_folders_are_refused(tmp_path):
    out = tmp_path / "f"
    ParquetFeatureStore(out, FeatureManifest(VARIANT, "video", views="single")).open()
    with pytest.raises(FeatureStoreError, match="views: 'single' != 'official'"):
        ParquetFeatureStore(out, FeatureManifest(VARIANT, "video", views="official"))
    with pytest.raises(FeatureStoreError, match="variant"):
        ParquetFeatureStore(out, FeatureManifest("other", "video", views="single"))
    old = tmp_path / "old_ray"  # 0.2's Ray output: parts without a manifest
    old.mkdir()
    pq.write_table(pa.table({"path": ["a"]}), old / "part-x.parquet")
    with pytest.raises(FeatureStoreError, match=r"no _manifest\.json"):
        ParquetFeatureStore(old, FeatureManifest(VARIANT, "video", views="single"))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(FeatureStoreError, match="is a file"):
        ParquetFeatureStore(a_file, FeatureManifest(VARIANT, "video", views="single"))
    (out / "_manifest.json").write_text(json.dumps({"format": "tf_videoswin.features", "schema_version": 99}))
    with pytest.raises(FeatureStoreError, match="schema version 99"):
        FeatureManifest.read(out)


def test_snippet_rows_and_npy_layout(tmp_path):
    out = tmp_path / "snippets"
    spec = SnippetSpec(frames=8, stride=4)
    manifest = FeatureManifest(VARIANT, "snippets", snippets=spec.to_dict(), tokens=True)
    store = ParquetFeatureStore(out, manifest).open()
    results = [snippet_result("a", 20, spec, tokens=True), snippet_result("b", 9, spec, tokens=True)]
    for r in results:
        store.add(r)
    store.flush()
    df = pd.read_parquet(out)
    assert list(df.columns) == [
        "path",
        "variant",
        "snippet_index",
        "snippet_start",
        "snippet_end",
        "pooled",
        "tokens",
    ]
    # 20 frames: n = min(ceil(20/4), ceil(12/4) + 1) = 4; 9 frames: min(3, ceil(1/4) + 1) = 2.
    assert df.groupby("path").size().to_dict() == {"/videos/a.mp4": 4, "/videos/b.mp4": 2}
    a = df[df.path == "/videos/a.mp4"]
    assert a.snippet_index.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(a.snippet_start, [0, 0.16, 0.32, 0.48])  # 4 frames at 25 fps = 0.16 s
    np.testing.assert_allclose(a.snippet_end, [0.32, 0.48, 0.64, 0.8])
    np.testing.assert_array_equal(np.stack([np.stack(t) for t in a.tokens]), results[0].tokens)
    # The localization layout: <video_id>.npy [n, C] loads with numpy; the JSON says how to place it.
    feats = np.load(out / "_npy" / "a.npy")
    assert feats.shape == (4, 6) and feats.dtype == np.float32
    np.testing.assert_array_equal(feats, results[0].pooled)
    meta = json.loads((out / "_npy" / "b.json").read_text())
    assert meta["fps"] == 25 and meta["stride"] == 4 and meta["span_frames"] == 8
    assert meta["snippet_start"] == [0.0, 0.16] and meta["snippet_end"] == [0.32, 0.36]
    assert meta["path"] == "/videos/b.mp4" and meta["feature_shape"] == [2, 6]
    # Another video with the same id is refused, before any work.
    store.npy.check_owner(["/videos/a.mp4"])
    with pytest.raises(FeatureStoreError, match="same video id"):
        store.npy.check_owner(["/elsewhere/a.mp4"])
    with pytest.raises(FeatureStoreError, match=r"x: /1/x\.mp4, /2/x\.mkv"):
        check_unique_ids(["/1/x.mp4", "/2/x.mkv", "/3/y.mp4"])


def test_results_travel_as_bytes():
    spec = SnippetSpec(frames=8, stride=4, fps=12.5)
    for result in (video_result(1), video_result(2, with_map=True), snippet_result("c", 30, spec, True)):
        back = from_bytes(result.to_bytes())
        assert type(back) is type(result) and back.path == result.path
        np.testing.assert_array_equal(back.pooled, result.pooled)
    back = from_bytes(snippet_result("c", 30, spec, True).to_bytes())
    assert back.timeline.spec == spec and back.timeline.fps == Fraction(25, 2)
    np.testing.assert_array_equal(back.timeline.end, snippet_result("c", 30, spec).timeline.end)


def test_npz_archive_keeps_the_0_2_format_with_ordinary_permissions(tmp_path):
    out = tmp_path / "f.npz"
    store = NpzFeatureStore(out, VARIANT)
    store.add(video_result(0))
    store.flush()
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~_umask()
    with np.load(out) as data:
        assert data["paths"].tolist() == ["/videos/v0.mp4"] and str(data["variant"]) == VARIANT
    with pytest.raises(FeatureStoreError, match="feature_maps"):
        NpzFeatureStore(out, VARIANT, feature_map=True)


def test_extract_features_from_python_with_keywords(tiny_export, tmp_path):
    """The library call behind the extraction app: a request object and keyword arguments; a result
    object instead of printing; a second call resumes; no output is created when there is no video."""
    from tf_videoswin.errors import VideoSourceError
    from tf_videoswin.features import ExtractionResult, FeatureRequest, extract_features

    from .videos import write_video

    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(2):
        write_video(videos / f"v{i}.mp4", frames=12, height=40, width=56, seed=70 + i)
    (videos / "broken.mp4").write_bytes(np.random.default_rng(7).bytes(3000))
    out = tmp_path / "features"
    request = FeatureRequest(snippets=SnippetSpec(frames=4, stride=16))
    kwargs = dict(sources=[videos], model=tiny_export / "feature_extractor", output=out, request=request)
    seen = []

    class Progress:
        def __init__(self, total, snippets):
            seen.append(("start", total, snippets))

        def video_done(self, failed=False):
            seen.append(("video", failed))

        def snippets_done(self, count):
            seen.append(("snippets", count))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    result = extract_features(**kwargs, progress=Progress)
    assert isinstance(result, ExtractionResult)
    assert (result.extracted, result.already_done, result.with_features) == (2, 0, 2)
    assert [e["path"] for e in result.errors] == [str(videos / "broken.mp4")]
    assert seen[0] == ("start", 3, True) and sorted(s for s in seen if s[0] == "video")[-1] == ("video", True)
    table = read_table(out)
    assert sorted(set(table.column("path").to_pylist())) == [str(videos / f"v{i}.mp4") for i in range(2)]
    assert json.loads((out / "_manifest.json").read_text())["mode"] == "snippets"
    again = extract_features(**kwargs)
    assert (again.extracted, again.already_done, len(again.errors)) == (0, 2, 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoSourceError, match="no videos"):
        extract_features(**{**kwargs, "sources": [empty], "output": tmp_path / "none"})
    assert not (tmp_path / "none").exists()
    with pytest.raises(ValueError, match="npz"):
        extract_features(**{**kwargs, "format": "npz"})
