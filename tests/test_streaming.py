"""Streaming decode: the same views as decoding every frame, snippet clips as specified, bounded memory."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tf_videoswin.variants import get_variant
from tf_videoswin.video import (
    SnippetSpec,
    SnippetStream,
    VideoError,
    clip_views,
    grid_frame_count,
    grid_source_indices,
    load_views,
    make_views,
    probe_video,
    resize_to_short_side,
    snippet_frame_indices,
    snippet_times,
)
from tf_videoswin.video import sampled as sampled_module

from .conftest import STHV2, TINY
from .videos import write_video

ROOT = Path(__file__).resolve().parents[1]


def decode_everything(path, short_side):
    """The decode-everything path of 0.2 (commit aab1450), written out with PyAV: every frame converted
    and resized as it is decoded, all kept."""
    import av

    with av.open(str(path)) as container:
        return np.stack(
            [
                resize_to_short_side(f.to_ndarray(format="rgb24"), short_side)
                for f in container.decode(video=0)
            ]
        )


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("streaming")
    return {
        "short": write_video(d / "short.mp4", frames=20, height=48, width=64, seed=1),  # loops (20 < 64)
        "mid": write_video(d / "mid.mp4", frames=70, height=64, width=48, seed=2),  # portrait
        "long": write_video(d / "long.mkv", frames=150, height=40, width=72, seed=3),  # mkv: no frame count
    }


@pytest.mark.parametrize("variant", [TINY, STHV2])
def test_streaming_views_equal_decoding_everything(clips, variant):
    pre = get_variant(variant).preprocessing
    for path in clips.values():
        frames = decode_everything(path, pre.short_side)
        for views in ("official", "single"):
            np.testing.assert_array_equal(load_views(path, pre, views), make_views(frames, pre, views))


def test_frame_count_from_container_or_demux(clips):
    mp4 = probe_video(clips["short"])
    assert (mp4.num_frames, mp4.counted_by, mp4.fps, mp4.width, mp4.height) == (20, "container", 24, 64, 48)
    mkv = probe_video(clips["long"])
    assert (mkv.num_frames, mkv.counted_by) == (150, "demux")
    assert mkv.duration == pytest.approx(150 / 24)


@pytest.mark.parametrize("wrong", [-7, 5, 100])
def test_a_wrong_container_count_is_corrected_by_the_decoder(clips, monkeypatch, wrong):
    """If the container's count is off, the views are still those of the decoded frames (second pass)."""
    pre = get_variant(TINY).preprocessing
    path = clips["mid"]
    expected = make_views(decode_everything(path, pre.short_side), pre, "single")
    real = probe_video(path)
    lying = type(real)(real.num_frames + wrong, real.fps, real.width, real.height, "container")
    monkeypatch.setattr(sampled_module, "probe_video", lambda p, backend="pyav": lying)
    passes = []
    keep = sampled_module._keep
    monkeypatch.setattr(sampled_module, "_keep", lambda *a: passes.append(1) or keep(*a))
    np.testing.assert_array_equal(load_views(path, pre, "single"), expected)
    # The clip of 63, 75 or 170 frames starts at frame 0, 6 or 53, the real one (70) at 3: a 2nd pass.
    assert len(passes) == 2


def test_damaged_tail_keeps_the_frames_that_decode(tmp_path):
    pre = get_variant(TINY).preprocessing
    good = write_video(tmp_path / "t.mkv", frames=90, height=48, width=64, seed=4)
    cut = tmp_path / "cut.mkv"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])  # a truncated download
    expected = make_views(decode_everything(cut, pre.short_side), pre, "single")
    assert 10 < len(decode_everything(cut, pre.short_side)) < 90
    np.testing.assert_array_equal(load_views(cut, pre, "single"), expected)


def test_errors_name_the_file(tmp_path):
    pre = get_variant(TINY).preprocessing
    bad = tmp_path / "noise.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoError, match=r"noise\.mp4"):
        load_views(bad, pre)
    with pytest.raises(VideoError, match="no such file"):
        load_views(tmp_path / "missing.mp4", pre)
    with pytest.raises(VideoError, match=r"noise\.mp4"):
        list(SnippetStream(bad, pre, SnippetSpec()))


SPECS = [
    SnippetSpec(frames=8, stride=4),
    SnippetSpec(frames=8, stride=4, frame_interval=2),
    SnippetSpec(frames=8, stride=12),
    SnippetSpec(frames=4, stride=3, fps=10),  # resample down 24 -> 10 fps
    SnippetSpec(frames=6, stride=5, frame_interval=2, fps=50),  # resample up
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_snippet_stream_equals_cutting_the_decoded_video(clips, spec):
    pre = get_variant(TINY).preprocessing
    for path in (clips["short"], clips["long"]):
        frames = decode_everything(path, pre.short_side)
        grid = frames[grid_source_indices(grid_frame_count(len(frames), 24, spec.fps), 24, spec.fps)]
        expected = clip_views(grid[snippet_frame_indices(len(grid), spec)], pre, "single")
        stream = SnippetStream(path, pre, spec, batch_size=3)
        batches = list(stream)
        assert all(len(b) <= 3 for b in batches)
        np.testing.assert_array_equal(np.concatenate(batches), expected)
        t = stream.timeline
        start, end = snippet_times(len(grid), spec.fps or 24, spec)
        np.testing.assert_array_equal(t.start, start)
        np.testing.assert_array_equal(t.end, end)
        assert (t.count, t.source_frames, t.grid_frames) == (len(expected), len(frames), len(grid))
        assert stream.peak_frames_held <= spec.span + spec.stride


def test_snippet_clip_is_the_single_view_of_its_frames(clips):
    """A snippet of 32 consecutive frames is exactly what views='single' gives for those frames."""
    pre = get_variant(TINY).preprocessing
    path = clips["mid"]  # 70 frames: single-view clip starts at int((70 - 64 + 1) / 2) = 3, interval 2
    spec = SnippetSpec(frames=32, stride=3, frame_interval=2)
    snippet_1 = np.concatenate(list(SnippetStream(path, pre, spec)))[1]  # starts at frame 3
    np.testing.assert_array_equal(snippet_1, load_views(path, pre, "single")[0])


_MEASURE = textwrap.dedent(
    """
    import json, sys
    from tf_videoswin.variants import get_variant
    from tf_videoswin.video import SnippetSpec, SnippetStream, load_views
    pre = get_variant("swin_tiny_patch244_window877_kinetics400_1k").preprocessing
    views = load_views(sys.argv[1], pre, "single")
    # Sparse snippets keep the test fast (few frames resized); the window logic is the same.
    n = sum(len(b) for b in SnippetStream(sys.argv[1], pre, SnippetSpec(frames=8, stride=400)))
    # VmHWM: this process's peak RSS (ru_maxrss would include the forking parent's peak on Linux).
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print(json.dumps({"peak_mb": int(hwm.split()[1]) / 1024, "snippets": n}))
    """
)


def _peak_rss_mb(video: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(video)], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc for the peak RSS")
def test_peak_memory_does_not_grow_with_the_video(tmp_path):
    """3,000 and 6,000 frames: the same peak RSS (decoding everything held ~600 MB and ~1.2 GB)."""
    short = write_video(tmp_path / "3k.mp4", frames=3000, height=48, width=64, seed=5)
    long = write_video(tmp_path / "6k.mp4", frames=6000, height=48, width=64, seed=6)
    a, b = _peak_rss_mb(short), _peak_rss_mb(long)
    assert (a["snippets"], b["snippets"]) == (8, 15)  # ceil(3000 / 400), ceil(6000 / 400)
    # Frames resized to 224x299 take 200 kB each: 3,000 more frames would add 600 MB if kept.
    assert b["peak_mb"] - a["peak_mb"] < 40, (a, b)
    assert b["peak_mb"] < 300, b
