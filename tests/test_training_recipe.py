"""The training pipeline, schedule, parameter groups, recipes, datasets and metrics: pure pieces, by hand."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tf_videoswin.datasets import from_annotation_list, from_class_folders, read_annotation_list
from tf_videoswin.errors import DatasetError
from tf_videoswin.evaluation.metrics import mean_class_accuracy, top_k_accuracy
from tf_videoswin.training.data import epoch_order, iterations_per_epoch, sample_rng, targets
from tf_videoswin.training.recipe import RECIPES, recipe_for
from tf_videoswin.training.schedule import learning_rate
from tf_videoswin.video.train_pipeline import (
    TrainPipeline,
    make_train_clip,
    random_erasing_box,
    random_resized_crop_box,
    sample_frame_uniform_train,
    sample_train_clips,
)

#: The official configs' training settings, with their source files and commit (made and re-checkable against
#: a clone by tests/data/make_official_recipes.py).
OFFICIAL = json.loads((Path(__file__).parent / "data" / "official_recipes.json").read_text())


# ---------------------------------------------------------------- temporal sampling
def test_train_clip_offset_is_random_within_the_video():
    # 100 frames, 8 x interval 2 = span 16: avg_interval = 85, offset = randint(85).
    offsets = set()
    for seed in range(200):
        inds = sample_train_clips(100, 8, 2, 1, np.random.default_rng(seed))
        expected_offset = int(np.random.default_rng(seed).integers(85))
        np.testing.assert_array_equal(inds, [[expected_offset + 2 * j for j in range(8)]])
        offsets.add(expected_offset)
    assert min(offsets) >= 0 and max(offsets) <= 84 and len(offsets) > 50


def test_train_clip_short_videos_follow_mmaction_branches():
    rng = np.random.default_rng(0)
    # 10 frames < span 16: avg_interval < 0 -> offset 0, indices loop modulo 10.
    np.testing.assert_array_equal(sample_train_clips(10, 8, 2, 1, rng), [[0, 2, 4, 6, 8, 0, 2, 4]])
    # 15 frames: avg_interval == 0 -> offsets around(i * 0 / 1) = 0; indices 0..14 step 2.
    np.testing.assert_array_equal(sample_train_clips(15, 8, 2, 1, rng), [[0, 2, 4, 6, 8, 10, 12, 14]])
    # 17 frames, 3 clips: avg_interval = 2 // 3 = 0 but 17 > max(3, 16): sorted randint(2) starts.
    for seed in range(20):
        inds = sample_train_clips(17, 8, 2, 3, np.random.default_rng(seed))
        starts = inds[:, 0]
        assert set(starts) <= {0, 1} and list(starts) == sorted(starts)


def test_frame_uniform_train_draws_one_frame_per_segment():
    # 33 frames, 8 segments of (33 - 1) / 8 = 4: segment i spans [4i, 4i + 4], both ends included.
    draws = np.stack([sample_frame_uniform_train(33, 8, np.random.default_rng(s))[0] for s in range(300)])
    np.testing.assert_array_equal(draws.min(axis=0), [4 * i for i in range(8)])
    np.testing.assert_array_equal(draws.max(axis=0), [4 * i + 4 for i in range(8)])


# ---------------------------------------------------------------- spatial augmentation
def test_random_resized_crop_box_respects_area_and_aspect():
    for seed in range(100):
        left, top, right, bottom = random_resized_crop_box(90, 160, np.random.default_rng(seed))
        w, h = right - left, bottom - top
        assert 0 <= left < right <= 160 and 0 <= top < bottom <= 90
        # Rounding each side to an integer moves area and ratio a little past the ranges.
        assert 0.08 * 0.9 <= w * h / (90 * 160) <= 1.0
        assert 3 / 4 * 0.9 <= w / h <= 4 / 3 * 1.1


def test_random_resized_crop_falls_back_to_the_centre_square():
    # The whole area at aspect 2 (98 x 49) never fits a 60x80 frame: the centre square of the short side.
    rng = np.random.default_rng(0)
    box = random_resized_crop_box(60, 80, rng, area_range=(1.0, 1.0), aspect_ratio_range=(2.0, 2.0))
    assert box == (10, 0, 70, 60)


def _frames(n=20, h=40, w=60):
    return np.random.default_rng(5).integers(0, 255, (n, h, w, 3), dtype=np.uint8)


def test_train_clip_shape_determinism_and_flip():
    pipe = TrainPipeline(clip_len=6, frame_interval=2, short_side=40, crop_size=32, flip_ratio=0.0)
    frames = _frames()
    a = make_train_clip(frames, pipe, np.random.default_rng(7))
    assert a.shape == (3, 6, 32, 32) and a.dtype == np.float32
    np.testing.assert_array_equal(a, make_train_clip(frames, pipe, np.random.default_rng(7)))
    assert not np.array_equal(a, make_train_clip(frames, pipe, np.random.default_rng(8)))
    # Same draws, flip forced: the mirror image of the same crop.
    flipped = make_train_clip(frames, pipe.replace(flip_ratio=1.0), np.random.default_rng(7))
    np.testing.assert_array_equal(flipped, a[..., ::-1])


def test_random_erasing_zeroes_one_box_on_every_frame():
    pipe = TrainPipeline(clip_len=4, frame_interval=1, short_side=40, crop_size=32, flip_ratio=0.0)
    frames = _frames() | 1  # no pixel equals the mean exactly, so no natural zeros
    plain = make_train_clip(frames, pipe, np.random.default_rng(3))
    erased = make_train_clip(frames, pipe.replace(random_erasing=1.0), np.random.default_rng(3))
    zero = np.all(erased == 0, axis=(0, 1))  # [c, c]: erased on every channel and frame
    assert zero.any() and not np.all(plain == 0, axis=(0, 1)).any()
    ys, xs = np.nonzero(zero)
    box = (ys.min(), xs.min(), ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    assert zero.sum() == box[2] * box[3]  # one rectangle
    np.testing.assert_array_equal(erased[:, :, ~zero], plain[:, :, ~zero])
    assert random_erasing_box(32, 32, np.random.default_rng(0), probability=0.0) is None


def test_erasing_box_area_and_aspect():
    for seed in range(100):
        box = random_erasing_box(64, 64, np.random.default_rng(seed), probability=1.0)
        if box is None:
            continue  # ten attempts may all be too large
        top, left, h, w = box
        assert top >= 0 and top + h <= 64 and left >= 0 and left + w <= 64
        assert 0.02 * 0.8 <= h * w / 64**2 <= 1 / 3 * 1.2


# ---------------------------------------------------------------- data order
def test_epoch_order_and_sample_generators_are_pure_functions():
    a, b = epoch_order(1, 0, 10), epoch_order(1, 1, 10)
    assert sorted(a) == list(range(10)) and not np.array_equal(a, b)
    np.testing.assert_array_equal(a, epoch_order(1, 0, 10))
    draw = sample_rng(1, 2, 3).random()
    assert draw == sample_rng(1, 2, 3).random() and draw != sample_rng(1, 2, 4).random()
    assert iterations_per_epoch(10, 4) == 3 and iterations_per_epoch(8, 4) == 2
    np.testing.assert_array_equal(targets([(1,), (0,)], 3, False), [1, 0])
    np.testing.assert_array_equal(targets([(0, 2), (1,)], 3, True), [[1, 0, 1], [0, 1, 0]])


# ---------------------------------------------------------------- schedule
def test_learning_rate_follows_mmcv_cosine_with_linear_warmup():
    # base 1e-3, 10 iterations per epoch, 30 epochs, warmup 2.5 epochs = 25 iterations, ratio 0.1.
    def lr(i):
        return learning_rate(1e-3, i, 10, 30)

    assert lr(0) == pytest.approx(1e-4)  # 0.1 x the epoch-0 rate (cos(0) = 1)
    epoch1 = 1e-3 * (1 + math.cos(math.pi / 30)) / 2
    assert lr(10) == pytest.approx(epoch1 * (1 - (1 - 10 / 25) * 0.9))
    assert lr(25) == pytest.approx(1e-3 * (1 + math.cos(2 * math.pi / 30)) / 2)  # warmup over
    assert lr(29) == lr(25)  # constant within an epoch
    assert lr(299) == pytest.approx(1e-3 * (1 + math.cos(29 * math.pi / 30)) / 2)
    assert learning_rate(1e-3, 0, 10, 30, warmup_epochs=0) == 1e-3


# ---------------------------------------------------------------- recipes
def test_recipes_hold_the_official_values():
    t, s = (
        RECIPES["swin_tiny_patch244_window877_kinetics400_1k"],
        RECIPES["swin_small_patch244_window877_kinetics400_1k"],
    )
    assert (t.lr, t.weight_decay, t.update_interval, t.epochs, t.batch_size) == (1e-3, 0.02, 4, 30, 2)
    assert (s.lr, s.weight_decay, s.update_interval, s.batch_size) == (1e-3, 0.02, 8, 1)
    ss = RECIPES["swin_base_patch244_window1677_sthv2"]
    assert (ss.lr, ss.weight_decay, ss.epochs, ss.label_smoothing) == (3e-4, 0.05, 60, 0.1)
    assert ss.pipeline.frame_uniform and ss.pipeline.flip_ratio == 0 and ss.pipeline.random_erasing == 0.25
    assert t.pipeline.flip_ratio == 0.5 and t.pipeline.short_side == 256 and t.pipeline.crop_size == 224
    assert recipe_for(t.config or "swin_tiny_patch244_window877_kinetics400_1k").config.endswith(
        "swin_tiny_patch244_window877_kinetics400_1k.py"
    )


def test_official_recipe_data_names_its_source():
    assert OFFICIAL["repository"] == "https://github.com/SwinTransformer/Video-Swin-Transformer"
    assert OFFICIAL["commit"].startswith("db018fb")  # the commit the fine-tuning docs name
    assert sorted(OFFICIAL["configs"]) == sorted(RECIPES)
    for name, entry in OFFICIAL["configs"].items():
        assert entry["files"][-1] == f"configs/recognition/swin/{name}.py"
        # Every scalar value is read from a line the entry keeps.
        text = "\n".join(entry["lines"])
        assert f"update_interval={entry['values']['update_interval']}," in text
        assert f"total_epochs = {entry['values']['total_epochs']}" in text


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_match_the_official_config_files(name):
    official = OFFICIAL["configs"][name]["values"]
    recipe = RECIPES[name]
    assert official["lr"] == recipe.lr
    assert official["weight_decay"] == recipe.weight_decay
    assert official["update_interval"] == recipe.update_interval
    assert official["total_epochs"] == recipe.epochs
    assert official["warmup_epochs"] == recipe.warmup_epochs
    assert official["videos_per_gpu"] == recipe.videos_per_gpu
    assert official["flip_ratio"] == recipe.pipeline.flip_ratio
    assert official["frame_uniform"] == recipe.pipeline.frame_uniform
    assert official["random_erasing"] == recipe.pipeline.random_erasing
    assert official["randaugment"] == (recipe.randaugment is not None)
    assert official["label_smoothing"] == recipe.label_smoothing
    assert official["decay_mult_zero"] == ["absolute_pos_embed", "norm", "relative_position_bias_table"]
    assert official["backbone_lr_mult"] == 0.1


# ---------------------------------------------------------------- parameter groups
def test_parameter_groups_follow_mmcv_first_longest_match():
    from tf_videoswin.config import VideoSwinConfig
    from tf_videoswin.model import Recognizer3D
    from tf_videoswin.training.param_groups import group_variables, multipliers

    keys = RECIPES["swin_tiny_patch244_window877_kinetics400_1k"].custom_keys
    table = "backbone.layers.0.blocks.0.attn.relative_position_bias_table"
    assert multipliers(table, keys) == (1.0, 0.0)  # 'relative_position_bias_table' beats 'backbone'
    assert multipliers("backbone.layers.0.blocks.0.norm1.gamma", keys) == (
        0.1,
        1.0,
    )  # 'backbone' beats 'norm'
    assert multipliers("backbone.layers.0.blocks.0.mlp.fc1.bias", keys) == (0.1, 1.0)
    assert multipliers("cls_head.fc_cls.kernel", keys) == (1.0, 1.0)
    assert multipliers("neck.norm.gamma", keys) == (1.0, 0.0)  # 'norm' only outside the backbone
    assert multipliers(table, keys, "all-keys") == (0.1, 0.0)
    assert multipliers("backbone.norm.gamma", keys, "all-keys") == (0.1, 0.0)

    model = Recognizer3D(VideoSwinConfig(embed_dim=16, depths=(2, 2), num_heads=(1, 2), num_classes=3))
    groups = {g.key: g.names for g in group_variables(model, keys)}
    assert sorted(groups) == ["lr_x0.1_decay_x1", "lr_x1_decay_x0", "lr_x1_decay_x1"]
    assert groups["lr_x1_decay_x1"] == ["cls_head.fc_cls.kernel", "cls_head.fc_cls.bias"]
    assert len(groups["lr_x1_decay_x0"]) == 4 and all(
        "relative_position" in n for n in groups["lr_x1_decay_x0"]
    )
    assert sum(map(len, groups.values())) == len(model.trainable_variables)


# ---------------------------------------------------------------- datasets
def test_annotation_list_parsing_and_errors(tmp_path):
    listing = tmp_path / "val.txt"
    listing.write_text("a/x 1.mp4 3\n\n# comment\nb/y.mp4 0\n", encoding="utf-8")
    rows = read_annotation_list(listing, tmp_path / "videos")
    assert rows == [
        (str(tmp_path / "videos" / "a/x 1.mp4"), (3,)),
        (str(tmp_path / "videos" / "b/y.mp4"), (0,)),
    ]
    assert read_annotation_list(listing)[1][0] == str(tmp_path / "b/y.mp4")  # default: the list's folder
    data = from_annotation_list(listing)
    assert data.class_names == ("0", "1", "2", "3") and data.single_labels() == [3, 0]
    (tmp_path / "multi.txt").write_text("v.mp4 1 4\nw.mp4 2\n", encoding="utf-8")
    multi = from_annotation_list(tmp_path / "multi.txt", multi_label=True)
    assert multi.labels == ((1, 4), (2,)) and multi.multi_label
    (tmp_path / "bad.txt").write_text("ok.mp4 1\nnolabel.mp4 x\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.txt:2: expected a label index"):
        read_annotation_list(tmp_path / "bad.txt")
    with pytest.raises(DatasetError, match="out of range"):
        from_annotation_list(listing, class_names=["a", "b"])


def test_class_folders(tmp_path):
    for cls, n in (("walk", 2), ("jump", 1)):
        (tmp_path / cls / "sub").mkdir(parents=True)
        for i in range(n):
            (tmp_path / cls / "sub" / f"{i}.mp4").write_bytes(b"x")
    (tmp_path / "walk" / "notes.txt").write_text("not a video")
    data = from_class_folders(tmp_path)
    assert data.class_names == ("jump", "walk") and data.single_labels() == [0, 1, 1]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="empty: class folder without videos"):
        from_class_folders(tmp_path)


# ---------------------------------------------------------------- metrics
def test_metrics_match_mmaction_by_hand():
    top = [(0, 1, 2), (2, 0, 1), (1, 2, 0), (1, 0, 2)]
    labels = [0, 0, 1, 2]
    assert top_k_accuracy(top, labels, 1) == 0.5  # videos 0 and 2
    assert top_k_accuracy(top, labels, 2) == 0.75  # + video 1 (0 second)
    # Classes {0, 1, 2}: recall 1/2, 1/1, 0/1 -> mean 0.5.
    assert mean_class_accuracy([t[0] for t in top], labels) == pytest.approx(0.5)
    # A class predicted but never the label (3) adds a 0, as mmaction's confusion matrix does.
    assert mean_class_accuracy([0, 3], [0, 1]) == pytest.approx((1 + 0 + 0) / 3)
    # -1 (no prediction) is a miss and adds no class.
    assert mean_class_accuracy([0, -1], [0, 1]) == pytest.approx(0.5)
