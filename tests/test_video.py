"""The official test pipeline: sampled indices, crops, resizing, normalisation and layout."""

from pathlib import Path

import numpy as np
import pytest

from tf_videoswin.variants import get_variant
from tf_videoswin.video import (
    VideoError,
    decode_video,
    frame_indices,
    list_videos,
    load_views,
    make_views,
    normalize,
    rescale_size,
    resize_bilinear,
    resize_to_short_side,
    sample_frame_uniform,
    sample_test_clips,
    sample_test_clips_evenly,
    three_crop_offsets,
)

from .conftest import STHV2, TINY
from .videos import write_video

MM_TINY = "swin-tiny-p244-w877_in1k-pre_8xb8-amp-32x2x1-30e_kinetics400-rgb"


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


def test_ssv2_frame_uniform_rounds_half_to_even():
    # seg = 101 / 32 = 3.15625. Segment 15 ends at np.round(16 * seg) = np.round(50.5) = 50 (half to even),
    # so its middle is (round(47.34375) + 50) // 2 = (47 + 50) // 2 = 48; floor(x + 0.5) would give 49.
    inds = sample_frame_uniform(102, 32)[0]
    assert inds[14:17].tolist() == [45, 48, 52]
    assert sample_frame_uniform(1, 32)[0].tolist() == [0] * 32


def test_single_view_uses_one_middle_clip():
    pre = get_variant(TINY).preprocessing
    # num_clips = 1: avg_interval = 300 - 64 + 1 = 237, offset int(237 / 2) = 118.
    assert frame_indices(300, pre, "single")[0, :2].tolist() == [118, 120]
    assert frame_indices(300, pre, "official").shape == (4, 32)
    ssv2 = get_variant(STHV2).preprocessing  # frame-uniform: one clip in both modes
    assert frame_indices(100, ssv2, "single").tolist() == frame_indices(100, ssv2, "official").tolist()


def test_rescale_sizes_and_odd_three_crop():
    assert rescale_size(256, 340, 224) == (224, 298)  # 340 * 224 / 256 = 297.5 -> int(298.0) = 298
    assert rescale_size(480, 854, 224) == (224, 399)  # 398.53 -> 399
    assert rescale_size(224, 224, 224) == (224, 224)
    assert rescale_size(100, 150, 224) == (224, 336)  # upscaling
    # w - crop = 75 is odd: step 37, so the "right" crop starts at 74 and misses the last column.
    assert three_crop_offsets(224, 299, 224) == [(0, 0), (0, 74), (0, 37)]
    assert three_crop_offsets(224, 224, 224) == [(0, 0), (0, 0), (0, 0)]


def test_resize_matches_opencv_fixed_point_bilinear():
    img = (np.arange(15, dtype=np.uint8).reshape(3, 5) * 17)[..., None]
    out = resize_bilinear(img, 7, 4)[..., 0]
    # cv2.resize(img, (4, 7), interpolation=cv2.INTER_LINEAR) (opencv 4.14). Pixel (0, 2) by hand:
    # x = 2.5 * 5 / 4 - 0.5 = 2.625 -> weights round(0.375 * 2048) = 768, 1280 on 34, 51:
    #   S = 91392, S >> 4 = 5712;
    # y = 0.5 * 3 / 7 - 0.5 = -0.286 -> row -1 (clipped to 0) weight 585, row 0 weight 1463:
    #   ((585 * 5712 >> 16) + (1463 * 5712 >> 16) + 2) >> 2 = (50 + 127 + 2) >> 2 = 44
    #   (float bilinear, e.g. tf.image.resize: 44.625 -> 45).
    expected = [
        [2, 23, 44, 66],
        [14, 36, 57, 78],
        [51, 72, 93, 114],
        [87, 108, 130, 151],
        [124, 145, 166, 187],
        [160, 181, 202, 224],
        [172, 193, 215, 236],
    ]
    assert out.tolist() == expected
    # Downscaling, also from cv2.resize(img2, (9, 3)).
    img2 = np.array(
        [
            [248, 194, 190, 207, 147, 26],
            [237, 21, 245, 211, 239, 45],
            [5, 157, 159, 60, 54, 236],
            [109, 46, 199, 82, 32, 205],
        ],
        dtype=np.uint8,
    )[..., None]
    assert resize_bilinear(img2, 3, 9)[..., 0].tolist() == [
        [246, 205, 171, 193, 203, 200, 170, 96, 29],
        [121, 105, 108, 183, 169, 137, 144, 144, 141],
        [92, 78, 86, 171, 135, 71, 43, 123, 210],
    ]
    # Batched input gives the same as one frame at a time; same size is a copy.
    batch = np.stack([img, img[::-1]])
    np.testing.assert_array_equal(resize_bilinear(batch, 7, 4)[1], resize_bilinear(img[::-1], 7, 4))
    assert resize_bilinear(img, 3, 5) is not img and (resize_bilinear(img, 3, 5) == img).all()
    with pytest.raises(TypeError):
        resize_bilinear(img.astype(np.float32), 7, 4)


def test_normalize_values():
    pre = get_variant(TINY).preprocessing
    out = normalize(np.array([[0, 128, 255]], np.uint8).repeat(3, 0).T, pre.mean, pre.std)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], [-123.675 / 58.395, -116.28 / 57.12, -103.53 / 57.375], rtol=1e-6)
    np.testing.assert_allclose(out[2], [(255 - 123.675) / 58.395, (255 - 116.28) / 57.12, 151.47 / 57.375])


def test_resize_at_decode_gives_the_same_views(tmp_path):
    pre = get_variant(TINY).preprocessing
    path = write_video(tmp_path / "b.mp4", frames=20, height=48, width=64)
    native = decode_video(path)
    resized = decode_video(path, short_side=224)
    assert resized.shape == (20, 224, 299, 3)
    np.testing.assert_array_equal(resized, resize_to_short_side(native, 224))
    views = load_views(path, pre, "single")
    np.testing.assert_array_equal(views, make_views(native, pre, "single"))
    assert views.shape == (1, 3, 32, 224, 224) and views.dtype == np.float32
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match=r"empty\.mp4: empty file"):
        load_views(empty, pre)


def test_list_videos_dir_and_list_file(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.mp4", "a.AVI", "sub/c.webm", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_videos(tmp_path)] == ["a.AVI", "b.mp4", "c.webm"]
    listing = tmp_path / "list.txt"
    listing.write_text("# comment\nb.mp4\n\n/abs/x.mp4\n", encoding="utf-8")
    assert list_videos(listing) == [tmp_path / "b.mp4", Path("/abs/x.mp4")]
    with pytest.raises(FileNotFoundError):
        list_videos(tmp_path / "nope")


def test_mmaction2_test_clips_are_evenly_spaced():
    # mmaction2 1.x: span (32 - 1) * 2 + 1 = 63, max_offset 300 - 63 = 237, starts round(k * 237 / 3).
    inds = sample_test_clips_evenly(300, clip_len=32, frame_interval=2, num_clips=4)
    assert inds[:, 0].tolist() == [0, 79, 158, 237] and inds[3, -1] == 299  # the last clip ends the video
    assert inds[0, :3].tolist() == [0, 2, 4]
    # Half-way starts round to even: max_offset 68 - 63 = 5, three clips start at 0, round(2.5) = 2, 5.
    assert sample_test_clips_evenly(68, 32, 2, 3)[:, 0].tolist() == [0, 2, 5]
    # One clip: max_offset // 2 = 118 (the official formula gives int(237 / 2) = 118 too, by chance).
    assert sample_test_clips_evenly(300, 32, 2, 1)[0, :2].tolist() == [118, 120]
    assert sample_test_clips_evenly(301, 32, 2, 1)[0, 0] == 119
    # Short videos: every clip starts at 0 and loops, as with the official sampler.
    short = sample_test_clips_evenly(40, 32, 2, 4)
    assert all(row.tolist() == [i % 40 for i in range(0, 64, 2)] for row in short)


def test_mmaction2_variants_sample_and_normalise_the_mmaction2_way():
    pre = get_variant(MM_TINY).preprocessing
    assert frame_indices(300, pre, "official")[:, 0].tolist() == [0, 79, 158, 237]
    assert frame_indices(300, get_variant(TINY).preprocessing, "official")[:, 0].tolist() == [
        29,
        88,
        148,
        207,
    ]
    frames = np.broadcast_to(np.arange(100, dtype=np.uint8)[:, None, None, None], (100, 224, 298, 3)).copy()
    views = make_views(frames, pre, "official")
    assert views.shape == (12, 3, 32, 224, 224)
    starts = sample_test_clips_evenly(100, 32, 2, 4)[:, 0]  # max_offset 37: 0, 12, 25, 37
    assert starts.tolist() == [0, 12, 25, 37]
    mean, std = np.asarray(pre.mean, np.float32), np.asarray(pre.std, np.float32)
    expected = (starts.astype(np.float32)[:, None] - mean) / std  # [clips, 3], first frame of each clip
    np.testing.assert_array_equal(views[8:12, :, 0, 0, 0], expected)  # middle crop, crop-major


def test_divide_by_std_is_mmaction2s_data_preprocessor_bit_for_bit():
    import torch

    pre = get_variant(MM_TINY).preprocessing
    pixels = np.arange(256, dtype=np.uint8)[:, None].repeat(3, 1)  # every value in every channel
    ours = normalize(pixels, pre.mean, pre.std, "divide_by_std")
    # ActionDataPreprocessor: (uint8 tensor - float32 mean) / float32 std, in float32.
    mean = torch.tensor(pre.mean, dtype=torch.float32)
    std = torch.tensor(pre.std, dtype=torch.float32)
    theirs = ((torch.from_numpy(pixels) - mean) / std).numpy()
    np.testing.assert_array_equal(ours, theirs)
    official = normalize(pixels, pre.mean, pre.std)  # multiply by the inverse std
    differs = official != ours
    assert differs.any()  # the two arithmetics are not the same function...
    steps = np.abs(official - ours)[differs] / np.spacing(np.abs(ours[differs]))
    assert steps.max() == 1.0  # ...but never more than one float32 rounding step apart
    with pytest.raises(ValueError, match="unknown normalization"):
        normalize(pixels, pre.mean, pre.std, "subtract_only")
