"""Numeric flags of every app: a value that is not finite or out of range exits 2 before any work,
and a flag that would change nothing is refused (argparse errors: no TensorFlow, no files)."""

from __future__ import annotations

import pytest

from porting import check_parity, convert_cli
from tf_videoswin.cli import evaluate, extract_features, finetune, predict

TINY = "swin_tiny_patch244_window877_kinetics400_1k"
CONVERT = ["--variant", TINY, "--checkpoint", "missing.pth", "--no-export"]
FINETUNE = ["data", "--variant", TINY, "--epochs", "1", "--output-dir", "out"]
EXTRACT = ["v.mp4", "--model", "m", "--out", "o"]

BAD = [
    (convert_cli, [*CONVERT, "--tolerance", "-1"]),
    (convert_cli, [*CONVERT, "--tolerance", "nan"]),
    (convert_cli, [*CONVERT, "--tolerance", "inf"]),
    (convert_cli, [*CONVERT, "--tolerance", "0"]),
    (check_parity, ["--variant", TINY, "--export", "e", "--tolerance", "nan"]),
    (check_parity, ["--variant", TINY, "--export", "e", "--tolerance", "-1e-4"]),
    (extract_features, [*EXTRACT, "--snippets", "--fps", "inf"]),
    (extract_features, [*EXTRACT, "--snippets", "--fps", "nan"]),
    (extract_features, [*EXTRACT, "--batch-size", "0"]),
    (extract_features, [*EXTRACT, "--flush-every", "-3"]),
    (extract_features, [*EXTRACT, "--num-actors", "0"]),
    (predict, ["v.mp4", "--model", "m", "--top-k", "0"]),
    (predict, ["v.mp4", "--model", "m", "--batch-size", "nan"]),
    (evaluate, ["list.txt", "--model", "m", "--batch-size", "-1"]),
    (finetune, [*FINETUNE, "--lr", "nan"]),
    (finetune, [*FINETUNE, "--lr", "inf"]),
    (finetune, [*FINETUNE, "--weight-decay", "nan"]),
    (finetune, [*FINETUNE, "--weight-decay", "-0.05"]),
    (finetune, [*FINETUNE, "--warmup-epochs", "inf"]),
    (finetune, [*FINETUNE, "--warmup-epochs", "-1"]),
    (finetune, [*FINETUNE, "--label-smoothing", "nan"]),
    (finetune, [*FINETUNE, "--seed", "-1"]),
    (finetune, [*FINETUNE, "--checkpoint-every", "-5"]),
    (finetune, [*FINETUNE, "--epochs", "0"]),
    (finetune, [*FINETUNE, "--batch-size", "0"]),
]


@pytest.mark.parametrize(
    ("app", "argv"), BAD, ids=[f"{a.__name__.rsplit('.', 1)[-1]}:{' '.join(v[-2:])}" for a, v in BAD]
)
def test_bad_numeric_flag_exits_2_before_any_work(app, argv, capsys):
    with pytest.raises(SystemExit) as raised:
        app.main(argv)
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert argv[-2] in err and ("finite" in err or "must be" in err or "expected" in err)


@pytest.mark.parametrize(
    "extra",
    [["--deploy-shape", "1,3,8,64,64"], ["--formats", "keras", "--deploy-shape", "1,3,8,64,64"]],
)
def test_deploy_shape_without_a_deployment_format_is_refused(extra, capsys):
    with pytest.raises(SystemExit) as raised:
        convert_cli.main([*CONVERT, *extra])
    assert raised.value.code == 2
    assert "--deploy-shape" in capsys.readouterr().err


def test_tflite_precisions_without_tflite_is_refused(capsys):
    with pytest.raises(SystemExit) as raised:
        convert_cli.main([*CONVERT, "--formats", "onnx", "--tflite-precisions", "int8"])
    assert raised.value.code == 2
    assert "--tflite-precisions" in capsys.readouterr().err


def test_deploy_flags_with_their_format_get_their_defaults():
    args = convert_cli.build_parser().parse_args([*CONVERT, "--formats", "onnx"])
    args.formats = ("savedmodel", "onnx")
    assert convert_cli.check_deploy_flags(args) is None
    assert args.deploy_shape == convert_cli.DEFAULT_DEPLOY_SHAPE
    assert args.tflite_precisions == convert_cli.DEPLOY_PRECISIONS["tflite"]
