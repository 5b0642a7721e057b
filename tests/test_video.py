"""The official test pipeline: sampled indices, crops, resizing, normalisation and layout."""

import numpy as np
import pytest

from tf_videoswin.variants import get_variant
from tf_videoswin.video import (
    VideoError,
    decode_video,
    make_views,
    rescale_size,
    sample_frame_uniform,
    sample_test_clips,
    three_crop_offsets,
)

from .conftest import STHV2, TINY
from .videos import write_video


def test_kinetics_test_clips_300_frames():
    # avg_interval = (300 - 64 + 1) / 4 = 59.25; offsets int(k * 59.25 + 29.625) = 29, 88, 148, 207
    inds = sample_test_clips(300, clip_len=32, frame_interval=2, num_clips=4)
    assert inds.shape == (4, 32)
    assert inds[:, 0].tolist() == [29, 88, 148, 207]
    assert inds[0, :3].tolist() == [29, 31, 33] and inds[3, -1] == 207 + 62


def test_short_video_loops_like_official_sampler():
    inds = sample_test_clips(40, 32, 2, 4)  # 40 <= 63: all offsets 0, indices looped mod 40
    expected = [i % 40 for i in range(0, 64, 2)]
    assert all(row.tolist() == expected for row in inds)
    assert inds[0, -1] == 22
    assert (sample_test_clips(64, 32, 2, 4)[:, 0] == 0).all()  # avg_interval 0.25 -> offsets 0


def test_ssv2_frame_uniform():
    inds = sample_frame_uniform(100, 32)  # seg = 99 / 32
    assert inds.shape == (1, 32)
    assert inds[0, :3].tolist() == [1, 4, 7] and inds[0, -1] == 97
    short = sample_frame_uniform(20, 32)[0]  # seg = 19 / 32: repeats frames, still in range
    assert short[:4].tolist() == [0, 1, 1, 2] and short[-1] == 18 and short.max() < 20


def test_rescale_and_three_crop_offsets():
    assert rescale_size(240, 320, 224) == (224, 299)
    assert rescale_size(1080, 1920, 224) == (224, 398)
    assert rescale_size(320, 240, 224) == (299, 224)
    assert three_crop_offsets(224, 298, 224) == [(0, 0), (0, 74), (0, 37)]  # left, right, middle
    assert three_crop_offsets(298, 224, 224) == [(0, 0), (74, 0), (37, 0)]  # top, bottom, middle
    with pytest.raises(ValueError):
        three_crop_offsets(300, 300, 224)


def test_views_layout_order_and_normalisation():
    pre = get_variant(TINY).preprocessing
    # Frame t has value t in every pixel and channel, on a 224 x 298 landscape frame.
    frames = np.broadcast_to(np.arange(100, dtype=np.uint8)[:, None, None, None], (100, 224, 298, 3)).copy()
    frames[:, :, :74] = 200  # the left band: only the left crop sees it
    views = make_views(frames, pre, "official")
    assert views.shape == (12, 3, 32, 224, 224) and views.dtype == np.float32
    mean, std = np.array(pre.mean), np.array(pre.std)
    # crop-major: views 0-3 are the left crop of clips 0-3.
    inds = sample_test_clips(100, 32, 2, 4)
    for clip in range(4):
        right = views[4 + clip, :, :, 0, -1]  # right crop, last column: value = frame index
        np.testing.assert_allclose(right, (inds[clip][None, :] - mean[:, None]) / std[:, None], rtol=1e-6)
    np.testing.assert_allclose(views[0, :, 0, 0, 0], (200 - mean) / std, rtol=1e-6)


def test_ssv2_views_are_one_clip_three_crops():
    frames = np.zeros((50, 240, 320, 3), np.uint8)
    assert make_views(frames, get_variant(STHV2).preprocessing, "official").shape == (3, 3, 32, 224, 224)
    assert make_views(frames, get_variant(TINY).preprocessing, "single").shape == (1, 3, 32, 224, 224)


def test_decode_real_mp4_and_errors(tmp_path):
    path = write_video(tmp_path / "a.mp4", frames=12, height=48, width=64)
    frames = decode_video(path)
    assert frames.shape == (12, 48, 64, 3) and frames.dtype == np.uint8
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoError, match=r"bad\.mp4"):
        decode_video(bad)
    with pytest.raises(VideoError, match="no such file"):
        decode_video(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError):
        decode_video(empty)
