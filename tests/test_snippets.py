"""Snippet conventions: counts, frame indices, resampling and times, against values derived by hand."""

from fractions import Fraction

import numpy as np
import pytest

from tf_videoswin.video import (
    SnippetSpec,
    grid_frame_count,
    grid_source_indices,
    snippet_count,
    snippet_frame_indices,
    snippet_starts,
    snippet_times,
)
from tf_videoswin.video.snippets import grid_frame_needed, grid_indices_of_source


def test_100_frames_at_25_fps_snippets_of_32_stride_16():
    spec = SnippetSpec(frames=32, stride=16)
    # n = max(1, min(ceil(100 / 16), ceil((100 - 32) / 16) + 1)) = min(7, 5 + 1) = 6
    assert snippet_count(100, spec) == 6
    assert snippet_starts(100, spec).tolist() == [0, 16, 32, 48, 64, 80]
    start, end = snippet_times(100, 25, spec)
    # start = frame / 25; end = min(start + 32, 100) / 25: 32/25 = 1.28 ... and 100/25 = 4.0 for the last
    np.testing.assert_allclose(start, [0.0, 0.64, 1.28, 1.92, 2.56, 3.2])
    np.testing.assert_allclose(end, [1.28, 1.92, 2.56, 3.2, 3.84, 4.0])
    inds = snippet_frame_indices(100, spec)
    assert inds.shape == (6, 32)
    assert inds[0].tolist() == list(range(32)) and inds[4].tolist() == list(range(64, 96))
    # The last snippet covers frames 80..99 and repeats frame 99 for its 12 missing frames.
    assert inds[5].tolist() == list(range(80, 100)) + [99] * 12


def test_frame_interval_2_spans_64_frames():
    spec = SnippetSpec(frames=32, stride=16, frame_interval=2)
    assert spec.span == 64
    # n = min(ceil(100 / 16), ceil((100 - 64) / 16) + 1) = min(7, 3 + 1) = 4
    assert snippet_count(100, spec) == 4
    start, end = snippet_times(100, 25, spec)
    np.testing.assert_allclose(start, [0.0, 0.64, 1.28, 1.92])
    np.testing.assert_allclose(end, [64 / 25, 80 / 25, 96 / 25, 4.0])
    inds = snippet_frame_indices(100, spec)
    assert inds[0].tolist() == list(range(0, 64, 2))
    # Snippet 3: 48, 50, ..., 98 (26 frames), then 100..110 clipped to the last frame, 99.
    assert inds[3].tolist() == list(range(48, 100, 2)) + [99] * 6


def test_short_video_gives_one_padded_snippet_and_sparse_strides_skip_frames():
    spec = SnippetSpec(frames=32, stride=16)
    assert snippet_count(10, spec) == 1
    assert snippet_frame_indices(10, spec)[0].tolist() == list(range(10)) + [9] * 22
    start, end = snippet_times(10, 25, spec)
    assert start.tolist() == [0.0] and end.tolist() == [10 / 25]  # ends with the video, not the padding
    assert snippet_count(1, spec) == 1
    # stride > span: n = min(ceil(100 / 30), ceil(92 / 30) + 1) = min(4, 5) = 4; starts 0, 30, 60, 90.
    sparse = SnippetSpec(frames=8, stride=30)
    assert snippet_starts(100, sparse).tolist() == [0, 30, 60, 90]
    assert snippet_times(100, 25, sparse)[1].tolist() == [8 / 25, 38 / 25, 68 / 25, 98 / 25]
    # Exactly one span: one snippet, no padding; one frame more: a second, padded snippet at 16.
    assert snippet_count(32, spec) == 1 and snippet_count(33, spec) == 2


def test_resampling_ntsc_to_10_fps():
    ntsc = Fraction(30000, 1001)  # 29.97 fps
    # 300 frames last 300 / 29.97 = 10.01 s; grid times k / 10 before that: ceil(300 * 10 * 1001 / 30000)
    # = ceil(100.1) = 101 frames.
    assert grid_frame_count(300, ntsc, 10) == 101
    src = grid_source_indices(101, ntsc, 10)
    # Grid frame k shows source frame floor(k * 2.997): 0, 2, 5, 8, ..., k=10 -> 29, k=100 -> 299.
    assert src[:4].tolist() == [0, 2, 5, 8] and src[10] == 29 and src[100] == 299
    # The inverse view: which grid frames show a source frame (none when resampling down skips it).
    assert list(grid_indices_of_source(2, ntsc, 10)) == [1]
    assert list(grid_indices_of_source(1, ntsc, 10)) == []
    # Times are on the 10 fps grid: a 16-frame snippet every 8 grid frames starts every 0.8 s.
    start, end = snippet_times(101, 10, SnippetSpec(frames=16, stride=8))
    assert start[:3].tolist() == [0.0, 0.8, 1.6] and end[-1] == pytest.approx(10.1)
    # Without a target rate the grid is the video's own frames.
    assert grid_frame_count(300, ntsc, None) == 300
    assert grid_source_indices(5, ntsc, None).tolist() == [0, 1, 2, 3, 4]
    # Resampling up repeats frames: 12.5 -> 25 fps shows every source frame twice.
    assert grid_source_indices(6, 12.5, 25).tolist() == [0, 0, 1, 1, 2, 2]
    assert list(grid_indices_of_source(1, 12.5, 25)) == [2, 3]


@pytest.mark.parametrize(
    "spec",
    [
        SnippetSpec(8, 4),
        SnippetSpec(8, 4, 2),
        SnippetSpec(4, 9, 1),
        SnippetSpec(5, 3, 3),
        SnippetSpec(6, 6, 1),
    ],
)
def test_needed_frames_are_the_frames_some_snippet_takes(spec):
    # Brute force over snippets 0, 1, 2, ... (start i * stride, frames start + j * interval).
    taken = {i * spec.stride + j * spec.frame_interval for i in range(200) for j in range(spec.frames)}
    assert [k for k in range(200) if grid_frame_needed(k, spec)] == sorted(k for k in taken if k < 200)


def test_spec_validation():
    with pytest.raises(ValueError, match="stride"):
        SnippetSpec(stride=0)
    with pytest.raises(ValueError, match="fps"):
        SnippetSpec(fps=0)
    assert SnippetSpec(frames=16, frame_interval=2).span == 32
