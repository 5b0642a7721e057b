"""One exit-code rule for every app (docs/exit-codes.md): 0 every input processed, 3 some failed (the
others kept), 2 nothing processed or no input found, and no output created for nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from porting import check_parity, convert_cli
from tf_videoswin import evaluate, extract_features, predict
from tf_videoswin.cli import common
from tf_videoswin.cli import finetune as finetune_cli

from .videos import write_video

ROOT = Path(__file__).resolve().parents[1]
TINY = "swin_tiny_patch244_window877_kinetics400_1k"


def test_outcome_code_is_the_documented_rule():
    assert common.outcome_code(processed=4, failed=0) == common.EXIT_OK == 0
    assert common.outcome_code(processed=3, failed=1) == common.EXIT_PARTIAL == 3
    assert common.outcome_code(processed=0, failed=2) == common.EXIT_INPUT == 2
    assert common.outcome_code(processed=0, failed=0) == common.EXIT_INPUT  # no input at all


@pytest.mark.parametrize(
    "app", [convert_cli, check_parity, predict, extract_features, evaluate, finetune_cli]
)
def test_every_app_points_at_the_one_rule(app):
    text = app.build_parser().format_help()
    assert "docs/exit-codes.md" in text and "3 some inputs failed" in text.replace("\n", " ")
    assert (ROOT / "docs" / "exit-codes.md").is_file()


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    d = tmp_path_factory.mktemp("broken_videos")
    for i in range(2):
        (d / f"broken{i}.mp4").write_bytes(np.random.default_rng(i).bytes(3000))
    return d


def test_extract_features_with_no_video_exits_2_and_creates_nothing(tiny_export, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "features"
    assert (
        extract_features.main(
            [str(empty), "--model", str(tiny_export / "feature_extractor"), "--out", str(out)]
        )
        == 2
    )
    assert "no videos in" in capsys.readouterr().err
    assert not out.exists()


def test_extract_features_where_every_video_failed_exits_2(tiny_export, broken, tmp_path, capsys):
    out = tmp_path / "features"
    argv = [
        str(broken),
        "--model",
        str(tiny_export / "feature_extractor"),
        "--out",
        str(out),
        "--no-progress",
    ]
    assert extract_features.main(argv) == 2
    assert "0 extracted, 0 already done (skipped), 2 failed" in capsys.readouterr().out


def test_predict_where_every_video_failed_exits_2_and_some_exits_3(tiny_export, broken, tmp_path, capsys):
    model = str(tiny_export / "classifier")
    argv = ["--model", model, "--views", "single", "--no-progress", "--json"]
    assert predict.main([str(broken), *argv]) == 2
    good = write_video(tmp_path / "good.mp4", frames=12, height=32, width=32)
    capsys.readouterr()
    assert predict.main([str(broken), str(good), *argv]) == 3
    assert len(json.loads(capsys.readouterr().out)["results"]) == 1


def test_evaluate_where_every_video_failed_exits_2_and_leaves_no_predictions(
    tiny_export, broken, tmp_path, capsys
):
    listing = tmp_path / "list.txt"
    listing.write_text("broken0.mp4 0\nbroken1.mp4 1\nmissing.mp4 2\n")
    out = tmp_path / "pred.csv"
    argv = [str(listing), "--model", str(tiny_export), "--data-root", str(broken), "--out", str(out)]
    assert evaluate.main([*argv, "--views", "single", "--no-progress", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["videos"] == 0
    assert not out.exists() and not out.with_name("pred.csv.json").exists()


def test_convert_all_where_some_checkpoints_failed_exits_3(tmp_path, tiny_export, tiny_checkpoint, capsys):
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    (ckpts / f"{TINY}.pth").symlink_to(tiny_checkpoint)  # up to date in tiny_export's folder
    (ckpts / "swin_small_patch244_window877_kinetics400_1k.pth").write_bytes(b"not a checkpoint")
    assert convert_cli.main(["--all", str(ckpts), "--output-dir", str(tiny_export.parent)]) == 3
    out = capsys.readouterr().out
    assert "up to date" in out and "ERROR" in out


@pytest.mark.parametrize(("skipped", "code"), [([], 0), ([{"path": "bad.mp4", "error": "corrupt"}], 3)])
@pytest.mark.parametrize("as_json", [False, True])
def test_finetune_exits_3_when_training_videos_were_skipped(skipped, code, as_json, capsys):
    from types import SimpleNamespace

    from tf_videoswin.training.finetune import FinetuneResult

    args = SimpleNamespace(json=as_json, output_dir=Path("out"))
    result = FinetuneResult(
        output_dir=Path("out"), up_to_date=False, resumed_from_iteration=None, epochs=1, iterations=4,
        optimizer_steps=1, history=[], skipped_videos=skipped, classes=["a", "b"],
    )  # fmt: skip
    assert finetune_cli._report(args, result) == code
