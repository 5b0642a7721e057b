"""The training benchmark runs end to end at a tiny size (the recompute mode: one child process; the
plain mode differs only in not switching recompute on)."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import training  # noqa: E402


@pytest.mark.slow  # ~50 s: training steps of Swin-T, timed
def test_training_benchmark_json(capsys):
    argv = ["--frames", "4", "--size", "32", "--batch", "1", "--steps", "1", "--modes", "recompute", "--json"]
    assert training.main(argv) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["mode"] for r in results] == ["recompute"]
    for r in results:
        assert r["input_shape"] == [1, 3, 4, 32, 32]
        assert r["step_seconds"] > 0 and r["peak_rss_gb"] >= r["rss_before_gb"] > 0


@pytest.mark.slow  # ~50 s where bfloat16 is emulated (CPUs without bf16 arithmetic)
def test_training_benchmark_bfloat16(capsys):
    argv = ["--frames", "4", "--size", "32", "--batch", "1", "--steps", "1", "--modes", "plain"]
    assert training.main([*argv, "--precision", "bfloat16", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["precision"] == "bfloat16" and result["step_seconds"] > 0
