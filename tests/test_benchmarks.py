"""The inference benchmark runs end to end and reports what the speed issue tracks."""

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import inference  # noqa: E402

TINY = "swin_tiny_patch244_window877_kinetics400_1k"


#: Stands in for a checkout of innat/VideoSwin (which cannot be fetched here): its ``VideoSwinBackbone``
#: signature, channels-last clip in, channels-last features out, on any Keras backend.
FAKE_PUBLIC_PORT = """
import keras


class VideoSwinBackbone(keras.Model):
    def __init__(self, input_shape, window_size, embed_dim, depths, num_heads, include_rescaling):
        inputs = keras.Input(input_shape)
        features = keras.layers.Conv3D(8 * embed_dim, (2, 4, 4), strides=(2, 4, 4))(inputs)
        super().__init__(inputs, features)
"""


def fake_public_port(folder: Path) -> Path:
    (folder / "videoswin").mkdir(parents=True)
    (folder / "videoswin" / "__init__.py").write_text(FAKE_PUBLIC_PORT)
    return folder


@pytest.mark.slow  # ~1 min: the script in a process of its own, with JAX and torch in child processes
def test_inference_benchmark_json(tmp_path):
    """One run at batch 2 (it also times the same export on one clip, in the same rounds): every key
    the speed issue tracks. The batch-1 run is the slow tier's precision run below. Run as users run it,
    as a script, which re-executes itself with glibc's malloc tunables."""
    argv = ["--variant", TINY, "--frames", "4", "--size", "32", "--runs", "1", "--batch", "2", "--json"]
    argv += ["--backend", "jax,torch"]  # this port on the other Keras backends, in the same rounds
    argv += ["--public-port", str(fake_public_port(tmp_path / "innat"))]  # and the public port on each
    env = {k: v for k, v in os.environ.items() if k not in inference.MALLOC_TUNABLES}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "inference.py"), *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    glibc = inference.platform.libc_ver()[0] == "glibc"
    assert result["malloc"] == ("tuned" if glibc else "defaults")  # re-executed with MALLOC_TUNABLES
    for key in ("variant", "batch", "input_shape", "tf_seconds", "torch_seconds", "ratio", "max_abs_diff"):
        assert key in result
    assert result["input_shape"] == [2, 3, 4, 32, 32] and result["parity_ok"]
    assert result["ratio"] == pytest.approx(result["tf_seconds"] / result["torch_seconds"])
    assert result["floor_seconds"] == pytest.approx(result["gflop"] / result["matmul_peak_gflops_per_second"])
    assert result["matmul_peak_gflops_per_second"] > 0
    assert result["cpu"]["onednn"] is True  # the package turned oneDNN on before TensorFlow loaded
    # The gain of batching: clips/s at batch 2 over clips/s of the same export on one clip.
    assert result["tf_batch1_seconds"] > 0
    expected = (2 / result["tf_seconds"]) / (1 / result["tf_batch1_seconds"])
    assert result["batch_throughput_vs_batch1"] == pytest.approx(expected)
    assert "batch 2 gives" in inference.format_report(result)
    for backend, base in (("jax", "tf_seconds"), ("torch", "torch_seconds")):
        assert result[f"keras_{backend}_max_abs_diff"] <= 1e-4  # the same weights give the same logits
        assert result[f"keras_{backend}_ratio"] == pytest.approx(
            result[f"keras_{backend}_seconds"] / result[base]
        )
        assert isinstance(result[f"keras_{backend}_target_met"], bool)
        # the public port on the same backend, in the same rounds: this port's time over its time
        assert result[f"keras_{backend}_vs_public_port"] == pytest.approx(
            result[f"keras_{backend}_seconds"] / result[f"public_port_{backend}_seconds"]
        )
        assert isinstance(result[f"keras_{backend}_public_port_target_met"], bool)
    assert result["tf_vs_public_port"] == pytest.approx(result["tf_seconds"] / result["public_port_seconds"])
    report = inference.format_report(result)
    assert "Keras on JAX (jit)" in report and "innat/VideoSwin on PyTorch" in report


@pytest.mark.slow  # ~2 min: exports, the official graph in OpenVINO and ONNX Runtime, bfloat16
def test_reduced_precision_and_runtime_comparison(capsys):
    argv = ["--variant", TINY, "--frames", "4", "--size", "32", "--runs", "1", "--json"]
    bf16 = ["--precision", "bfloat16", "--attention-precision", "bfloat16"]
    assert inference.main([*argv, *bf16, "--compare", "openvino,onnxruntime"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["precision"] == "bfloat16" and 0.999 <= result["drift_cosine"] <= 1.0
    assert result["attention_precision"] == "bfloat16"
    assert result["input_shape"] == [1, 3, 4, 32, 32]
    assert "tf_batch1_seconds" not in result  # batch 1 has nothing to compare with
    assert result["max_abs_diff"] > 1e-6  # bfloat16 really ran
    cpu = result["cpu"]
    assert cpu["onednn"] is True  # the package turned oneDNN on before TensorFlow loaded
    assert (
        cpu["model"]
        and isinstance(cpu["features"], list)
        and result["bf16_recommended"]
        == (
            cpu["bf16_arithmetic"]
            and result["matmul_bf16_gflops_per_second"] > result["matmul_peak_gflops_per_second"]
        )
    )
    # OpenVINO runs the official graph faithfully in f32; each runtime gives a time or says why it cannot.
    assert result["openvino_seconds"] > 0 and result["openvino_max_abs_diff"] <= 1e-4
    assert "onnxruntime_seconds" in result or "onnxruntime_error" in result
    assert ("openvino_bf16_seconds" in result) == cpu["bf16_arithmetic"]
    # The floor uses the best of the matmul rates measured before and after the model timings.
    assert len(result["matmul_gflops_samples"]) == 6
    assert result["matmul_peak_gflops_per_second"] == max(result["matmul_gflops_samples"])
    assert result["matmul_bf16_gflops_per_second"] > 0
    # The float32 export ran in the same rounds, so the speed-up is measured, not assumed.
    assert result["speedup_vs_float32"] == pytest.approx(result["tf_float32_seconds"] / result["tf_seconds"])
    # So did the bfloat16 export with float32 attention logits: the gain of bf16 logits, measured.
    expected = result["tf_attention_float32_seconds"] / result["tf_seconds"]
    assert result["speedup_vs_attention_float32"] == pytest.approx(expected)
    report = inference.format_report(result)
    assert "CPU: " in report and "speed-up of bfloat16 over float32" in report
    assert "precision bfloat16, attention bfloat16" in report and "speed-up of bfloat16 attention" in report


def test_bf16_is_recommended_only_where_its_matmul_beats_float32():
    with_bf16, without = {"bf16_arithmetic": True}, {"bf16_arithmetic": False}
    assert inference.bf16_recommended(with_bf16, 400.0, 250.0)
    assert not inference.bf16_recommended(with_bf16, 126.0, 238.0)  # a KVM guest seen with AVX512_BF16
    assert not inference.bf16_recommended(without, 400.0, 250.0)
    assert inference.bf16_recommended(with_bf16, None, 250.0)  # float32 runs do not measure bf16
    report = inference.format_report(
        {
            "variant": TINY,
            "input_shape": [1, 3, 4, 32, 32],
            "precision": "bfloat16",
            "tf_seconds": 2.0,
            "tf_clips_per_second": 0.5,
            "torch_seconds": 4.0,
            "torch_clips_per_second": 0.25,
            "ratio": 0.5,
            "gflop": 1.0,
            "tf_gflops_per_second": 0.5,
            "matmul_peak_gflops_per_second": 238.0,
            "matmul_gflops_samples": [238.0] * 6,
            "floor_seconds": 0.004,
            "tf_floor_multiple": 500.0,
            "matmul_bf16_gflops_per_second": 126.0,
            "drift_cosine": 0.99999,
            "bf16_recommended": False,
            "tf_float32_seconds": 1.4,
            "speedup_vs_float32": 0.7,
            "max_abs_diff": 0.01,
            "parity_ok": True,
            "cpu": {"model": "x", "cores": 2, "features": ["avx512_bf16"], "bf16_arithmetic": True},
        }
    )
    assert "over float32: 0.70x" in report and "no faster than float32 on this CPU" in report


def test_contestants_are_timed_in_turns():
    """One warm-up call each, then rounds of two calls of each (the second timed): a slowdown that
    lasts a while hits every contestant, not only the one timed during it."""
    calls = []
    forwards = {name: (lambda n=name: calls.append(n)) for name in ("tf", "torch", "openvino")}
    medians = inference.interleaved_medians(forwards, runs=3)
    assert calls == ["tf", "torch", "openvino"] + ["tf", "tf", "torch", "torch", "openvino", "openvino"] * 3
    assert set(medians) == set(forwards) and all(m >= 0 for m in medians.values())


def test_unknown_runtime_to_compare_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        inference.main(["--compare", "tensorrt"])
    assert e.value.code == 2 and "unknown runtime" in capsys.readouterr().err


def test_unknown_backend_to_time_is_refused(capsys):
    with pytest.raises(SystemExit) as e:
        inference.main(["--backend", "numpy"])
    assert e.value.code == 2 and "unknown backend" in capsys.readouterr().err


def test_public_port_must_be_a_checkout(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        inference.main(["--public-port", str(tmp_path)])
    assert e.value.code == 2
    assert "not a checkout of innat/VideoSwin" in capsys.readouterr().err


def test_long_video_benchmark_compares_before_and_after(capsys):
    """The machinery on a "before" that every checkout has: this tree as a folder (a shallow clone lacks
    the decode-everything commit; that streaming gives its views bit for bit is tests/test_streaming.py's)."""
    import long_video

    assert long_video.main(["--frames", "80", "--size", "64x48", "--before", str(ROOT), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["views_identical"] and result["frames"] == 80
    for version in ("before", "after"):
        assert result[f"decode_{version}"]["seconds"] > 0 and result[f"decode_{version}"]["peak_rss_mb"] > 0


def test_long_video_benchmark_takes_the_before_code_from_git(tmp_path):
    import long_video

    tree = long_video.checkout("HEAD", tmp_path)  # every clone, shallow or not, has HEAD
    assert (tree / "tf_videoswin" / "__init__.py").is_file() and tree == tmp_path
    assert long_video.checkout(str(ROOT), tmp_path / "unused") == ROOT.resolve()
    assert long_video._knows_npz_format(ROOT)  # so the "before" of this tree is asked for --format npz


@pytest.mark.slow  # ~1 min: the old and the new code extract features in child processes
def test_long_video_benchmark_runs_both_versions_on_a_current_export(tiny_export, capsys):
    """The "before" code (this tree, as above) gets the export as older code would read it."""
    import long_video

    model = tiny_export / "feature_extractor"
    argv = ["--frames", "40", "--size", "64x48", "--model", str(model), "--before", str(ROOT), "--json"]
    assert long_video.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    for version in ("before", "after"):
        assert result[f"extract_{version}"]["videos_per_s"] > 0


def test_old_code_is_not_shown_a_pipeline_it_cannot_run(tiny_export, tmp_path):
    import shutil

    import long_video

    model = tmp_path / "mm"
    shutil.copytree(tiny_export / "feature_extractor", model)
    meta = json.loads((model / "videoswin_metadata.json").read_text())
    meta["preprocessing"]["clip_starts"] = "evenly_spaced"
    (model / "videoswin_metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="clip_starts='evenly_spaced'"):
        long_video.export_for_old_code(model, tmp_path / "old")


def test_profile_sums_kernel_time_by_what_it_does(capsys):
    import profile_ops

    argv = ["--shape", "1,3,4,32,32", "--runs", "1", "--json"]
    assert profile_ops.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    categories = result["categories_ms"]
    assert categories["matmul (linear layers)"] > 0 and categories["batch matmul (attention)"] > 0
    # Every matmul kernel the model runs counts as one (the floor counts their FLOPs), fused ones too.
    matmuls = [op for op in result["ops_ms"] if "MatMul" in op]
    assert not [op for op in matmuls if profile_ops.category(op) not in profile_ops.MATMUL_CATEGORIES]
    # LayerNorm has a category whether oneDNN fused it (an export's form) or not.
    assert not [
        op
        for op in result["ops_ms"]
        if op.endswith(("LayerNorm", "FusedBatchNormV3", "Mean")) and profile_ops.category(op) != "LayerNorm"
    ]
    assert sum(categories.values()) == pytest.approx(result["kernel_ms"])
    assert result["threads"] >= 1 and result["floor_seconds"] > 0
    wall = result["categories_seconds"]
    assert set(wall) == set(categories)
    assert sum(wall.values()) + result["no_kernel_seconds"] == pytest.approx(result["profiled_seconds"])
    assert result["matmul_wall_seconds"] == pytest.approx(
        wall["matmul (linear layers)"] + wall["batch matmul (attention)"]
    )
    assert 0 <= result["idle_seconds"] <= result["profiled_seconds"]
    assert "ParallelFor" not in result["ops_ms"]  # recorded inside the kernels that issue it
    assert "matmuls take" in profile_ops.format_report(result, top=5)
    assert result["bounds"]["outside_matmul_seconds"] == pytest.approx(
        result["profiled_seconds"] - result["matmul_wall_seconds"]
    )
    assert "bounds from this profile" in profile_ops.format_report(result, top=5)
    # The score matmul q·kᵀ runs as oneDNN's batch matmul with the bias inside, one of the attention matmuls.
    assert 0 < result["score_matmul_wall_seconds"] < wall["batch matmul (attention)"]
    no_bf16 = {
        **result,
        "bf16_arithmetic": False,
        "bounds": {**result["bounds"], "bf16_gain_ceiling": None, "bf16_float32_logits_gain_ceiling": None},
    }
    assert "no bf16 arithmetic" in profile_ops.format_report(no_bf16, top=5)
    bf16 = {
        **result,
        "bf16_arithmetic": True,
        "bf16_matmul_speedup": 1.6,
        "bounds": {**result["bounds"], "bf16_gain_ceiling": 1.5, "bf16_float32_logits_gain_ceiling": 1.3},
    }
    report = profile_ops.format_report(bf16, top=5)
    assert (
        "at most 1.50x float32" in report
        and "float32 attention logits (the default): at most 1.30x" in report
    )


@pytest.mark.slow  # ~20 s: the profile script over each stage; the default tier runs it once whole
def test_profile_by_stage_follows_the_backbone(capsys):
    import profile_ops

    from tf_videoswin.model.flops import count_macs
    from tf_videoswin.variants import get_variant

    argv = ["--shape", "2,3,4,32,32", "--runs", "1", "--by-stage", "--json"]
    assert profile_ops.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    stages = result["stages"]
    arch = get_variant(result["variant"]).arch
    assert [s["stage"] for s in stages] == ["layers.0", "layers.1", "layers.2", "layers.3"]
    assert [s["blocks"] for s in stages] == list(arch.depths)
    # Each stage gets what the one before it gives: channels double, the grid halves (ceil).
    assert stages[0]["input_shape"] == [2, 2, 8, 8, arch.embed_dim]
    assert [s["input_shape"][-1] for s in stages] == [arch.embed_dim * 2**i for i in range(4)]
    assert [s["input_shape"][2] for s in stages] == [8, 4, 2, 1]
    macs = count_macs(arch, 4, 32, 32)
    rate = result["matmul_gflops_per_second"]
    for s in stages:
        assert s["floor_seconds"] == pytest.approx(2 * 2 * macs[s["stage"]] / 1e9 / rate)
        assert s["outside_matmul_seconds"] == pytest.approx(s["profiled_seconds"] - s["matmul_wall_seconds"])
        assert sum(s["categories_ms"].values()) == pytest.approx(s["kernel_ms"])
        assert sum(s["categories_seconds"].values()) <= s["profiled_seconds"] + 1e-9
    report = profile_ops.format_report(result, top=5)
    assert "by stage" in report and all(s["stage"] in report for s in stages)
    # Each stage splits into the parts of its blocks: the same kernels' wall time, the stage's FLOPs.
    assert "by part of each stage" in report
    for s in stages:
        parts = s["parts"]
        assert list(parts) == list(profile_ops.PARTS)
        assert sum(p["wall_seconds"] for p in parts.values()) == pytest.approx(
            sum(s["categories_seconds"].values())
        )
        assert sum(p["floor_seconds"] for p in parts.values()) == pytest.approx(s["floor_seconds"])
        # The name scopes of the model's two loops reach the profiler's op names.
        assert parts["window attention loop"]["wall_seconds"] > 0
        assert parts["MLP loop"]["wall_seconds"] > 0


def test_profile_slices_wall_time_between_the_kernels_running():
    import profile_ops

    second = 10**12  # the trace's picoseconds
    # Executor thread 1: a matmul from 0 to 10 s with a ParallelFor recorded inside it;
    # thread 2: a softmax from 5 to 15 s, then a transpose from 20 to 21 s.
    one = profile_ops.top_level([(0, 10 * second, "MatMul"), (2 * second, 3 * second, "ParallelFor")])
    two = profile_ops.top_level(
        [(20 * second, 21 * second, "Transpose"), (5 * second, 15 * second, "Softmax")]
    )
    assert one == [(0, 10 * second, "MatMul")]
    seconds = profile_ops.time_sliced([one, two])
    assert seconds == pytest.approx({"MatMul": 7.5, "Softmax": 7.5, "Transpose": 1.0})
    assert profile_ops.busy_seconds([(0, 2 * second), (3 * second, 4 * second)]) == pytest.approx(3.0)
    trace = profile_ops.Trace(collections.Counter(MatMul=10e3), seconds, 2, 2, 30.0)
    summary = profile_ops.summarise(22.0, trace)
    assert summary["no_kernel_seconds"] == pytest.approx(6.0)  # 15-20 s and 21-22 s
    assert summary["idle_seconds"] == pytest.approx(7.0)  # 22 s minus 30 s of pool work over 2 threads
    assert summary["matmul_wall_seconds"] == pytest.approx(7.5)
    assert summary["score_matmul_wall_seconds"] == 0.0
    # oneDNN's score matmul with the bias inside (q·kᵀ) is a matmul, and the score matmul.
    scores = collections.Counter({**seconds, "_MklFusedBatchMatMulV2": 2.0})
    summary = profile_ops.summarise(22.0, profile_ops.Trace(collections.Counter(), scores, 2, 2, 30.0))
    assert summary["matmul_wall_seconds"] == pytest.approx(9.5)
    assert summary["score_matmul_wall_seconds"] == pytest.approx(2.0)


def test_profile_tells_the_parts_of_a_block_from_op_names():
    import profile_ops

    loop = "layers.0_1/blocks.1_1/PartitionedCall/window_loop/map/while/body/_55/window_loop/map/while"
    assert profile_ops.op_type(f"{loop}/MatMul_1:_MklBatchMatMulV2") == "_MklBatchMatMulV2"
    assert profile_ops.op_type("MatMul") == "MatMul"
    assert profile_ops.part(f"{loop}/Softmax:_MklSoftmax") == "window attention loop"
    assert profile_ops.part("layers.2_1/blocks.0_1/PartitionedCall/mlp_loop/map/while/Gelu:Mul") == "MLP loop"
    assert profile_ops.part("layers.0_1/blocks.0_1/PartitionedCall/transpose:_MklTranspose") == "rest"
    assert profile_ops.part("layers.0_1/my_window_loop_x/add:AddV2") == "rest"  # whole scopes only
    # A shifted block's second window loop (the half windows) runs in a renumbered scope.
    assert profile_ops.part("layers.0_1/blocks.1_1/window_loop_1/map/while/Softmax:_MklSoftmax") == (
        "window attention loop"
    )
    assert profile_ops.part("layers.0_1/window_loop_x1/add:AddV2") == "rest"
    second = 10**12
    threads = [
        [
            (0, 4 * second, f"{loop}/MatMul_1:_MklBatchMatMulV2"),
            (6 * second, 7 * second, "a/mlp_loop/b:MatMul"),
        ],
        [(2 * second, 4 * second, "layers.0_1/roll:Roll")],
    ]
    assert profile_ops.time_sliced(threads, key=profile_ops.part) == pytest.approx(
        {"window attention loop": 3.0, "rest": 1.0, "MLP loop": 1.0}
    )
    assert profile_ops.time_sliced(threads) == pytest.approx(
        {"_MklBatchMatMulV2": 3.0, "Roll": 1.0, "MatMul": 1.0}
    )


def test_profile_bounds_follow_from_the_times():
    import profile_ops

    # 1.2 s forward: 0.8 s of matmuls, 0.1 s idle; floor 0.8 s; bf16 matmuls 1.6x faster.
    # 0.16 s of the matmuls are attention scores, which float32 attention logits keep in float32.
    b = profile_ops.bounds(1.2, 0.8, 0.1, 0.8, bf16_speedup=1.6, score_matmul_seconds=0.16)
    assert b["outside_matmul_seconds"] == pytest.approx(0.4)
    assert b["outside_matmul_budget"] == pytest.approx({"1.5x": 0.4, "1.3x": 0.24})
    assert b["batch_gain_ceiling"] == pytest.approx(1.2 / 1.1)
    assert b["bf16_gain_ceiling"] == pytest.approx(1.2 / (0.4 + 0.5))
    assert b["bf16_float32_logits_gain_ceiling"] == pytest.approx(1.2 / (0.4 + 0.16 + 0.64 / 1.6))
    no_bf16 = profile_ops.bounds(1.2, 0.8, 0.1, 0.8)
    assert no_bf16["bf16_gain_ceiling"] is None and no_bf16["bf16_float32_logits_gain_ceiling"] is None


def test_profile_refuses_a_bad_shape(capsys):
    import profile_ops

    with pytest.raises(SystemExit) as e:
        profile_ops.main(["--shape", "1,4,4,32,32"])
    assert e.value.code == 2 and "3 (RGB) channels" in capsys.readouterr().err


@pytest.mark.slow  # ~20 s: the profile script again, in bfloat16
def test_profile_takes_the_opt_in_attention_precision(capsys):
    import profile_ops

    with pytest.raises(SystemExit) as e:
        profile_ops.main(["--attention-precision", "bfloat16"])  # float32 has no reduced logits
    assert e.value.code == 2 and "--attention-precision" in capsys.readouterr().err
    argv = ["--shape", "1,3,4,32,32", "--runs", "1", "--precision", "bfloat16", "--attention-precision"]
    assert profile_ops.main([*argv, "bfloat16", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["precision"] == result["attention_precision"] == "bfloat16"  # read from the model
    assert profile_ops.main([*argv, "float32", "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert default["attention_precision"] == "float32"
    assert "attention bfloat16" in profile_ops.format_report(result, top=3)
    assert "attention" not in profile_ops.format_report(default, top=3).splitlines()[0]


def test_malloc_tunables_are_added_once_and_never_override_the_user(monkeypatch):
    monkeypatch.setattr(inference.platform, "libc_ver", lambda *a, **k: ("glibc", "2.36"))
    tunables = inference.MALLOC_TUNABLES
    env = inference.malloc_env(["--json"], {"PATH": "/bin", "MALLOC_TRIM_THRESHOLD_": "0"})
    assert env == {**tunables, "PATH": "/bin", "MALLOC_TRIM_THRESHOLD_": "0"}  # the user's value wins
    assert inference.malloc_env(["--json"], env) is None  # already re-executed: no loop
    assert inference.malloc_state(env) == "tuned"
    assert inference.malloc_state({"PATH": "/bin"}) == "defaults"
    assert inference.build_parser().parse_args(["--system-malloc"]).system_malloc
    for asked in (["--system-malloc"], ["--system-m"]):  # argparse takes the abbreviation as the flag
        assert inference.malloc_env(asked, {"PATH": "/bin"}) is None
    monkeypatch.setattr(inference.platform, "libc_ver", lambda *a, **k: ("", ""))  # musl, macOS
    assert inference.malloc_env([], {"PATH": "/bin"}) is None


@pytest.mark.slow  # ~2 min: both backends port the checkpoint in processes of their own
def test_gpu_script_runs_parity_and_timings_on_any_device(tiny_checkpoint, tmp_path, capsys):
    """The GPU check (parity with TF32 off, then JAX and PyTorch timings beside reference_torch) runs
    end to end; here on the CPU at a small clip size."""
    import gpu

    from .conftest import GOLDEN_DIR

    argv = ["--golden-dir", str(GOLDEN_DIR / "data"), "--checkpoint", str(tiny_checkpoint)]
    argv += ["--batches", "1,2", "--frames", "4", "--size", "32", "--runs", "1", "--scratch", str(tmp_path)]
    assert gpu.main([*argv, "--json"]) == 0
    results = json.loads(capsys.readouterr().out.splitlines()[0])
    assert [r["backend"] for r in results] == ["jax", "torch"]
    for r in results:
        assert max(r["parity"].values()) <= 1e-4
        for precision in ("float32", "bfloat16"):
            assert r[f"{precision}_batch1_seconds"] > 0 and r[f"{precision}_batch2_seconds"] > 0
    assert results[1]["reference_torch_bfloat16_batch2_seconds"] > 0
