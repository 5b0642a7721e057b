"""``convert.py --formats tflite,onnx,openvino``: LiteRT, ONNX and OpenVINO files equal the official code's
golden outputs, lossy files report their drift, the metadata proves every file, bad requests exit 2."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from porting import convert_cli
from tf_videoswin.errors import DeploymentError, ExportCheckError
from tf_videoswin.export import METADATA_FILE, ExportMetadata
from tf_videoswin.export.deploy.runtimes import open_runner
from tf_videoswin.export.deploy.targets import DeployTarget
from tf_videoswin.export.proof import ProofInput
from tf_videoswin.variants import get_variant

from .conftest import ROOT, STHV2, TINY

#: The golden inputs' shape: deployment files made at it are compared with the official outputs directly.
GOLDEN_SHAPE = (2, 3, 18, 70, 90)
DEPLOY_FILES = ["--formats", "tflite,onnx,openvino", "--deploy-shape", ",".join(map(str, GOLDEN_SHAPE))]
#: The default run's files: the exact ones. The lossy TFLite files (float16, int8: six conversions with
#: drift proofs) are added to a copy of this export in the slow tier.
DEPLOY = [*DEPLOY_FILES, "--tflite-precisions", "float32"]
#: How far a lossy file may drift from the official outputs on the golden input: max-abs as a fraction of
#: the output's largest magnitude, and the lowest cosine of pooled features the converter may record.
#: Measured on the seed-0 Swin-T: float16 at most 9.6e-4 of the scale (cosine 0.9999996), int8 3.2e-2
#: (cosine 0.99974); the bounds leave 3-5x of that, while a broken conversion (a wrong transpose, a
#: dropped bias) moves outputs by their own scale.
LOSSY_DRIFT = {
    "float16": {"relative_max_abs": 5e-3, "pooled_cosine_min": 0.99999},
    "int8": {"relative_max_abs": 0.1, "pooled_cosine_min": 0.999},
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _worst(expected: dict, actual: dict) -> float:
    return max(float(np.abs(actual[k] - expected[k]).max()) for k in actual)


@pytest.fixture(scope="module")
def deploy_export(tmp_path_factory, tiny_checkpoint) -> Path:
    """A Swin-T export with every deployment file at the golden shape, written by the CLI."""
    out = tmp_path_factory.mktemp("deploy")
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out), *DEPLOY]
    assert convert_cli.main(argv) == 0
    return out / TINY


@pytest.fixture(scope="module")
def deploy_meta(deploy_export) -> ExportMetadata:
    return ExportMetadata.read(deploy_export)


@pytest.fixture(scope="module")
def lossy_export(deploy_export, tiny_checkpoint, tmp_path_factory) -> Path:
    """A copy of ``deploy_export`` extended with the lossy TFLite files by asking for them alone: the
    export is rewritten with the float32 files it held and the float16 and int8 ones."""
    out = tmp_path_factory.mktemp("lossy")
    shutil.copytree(deploy_export, out / TINY)
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out), *DEPLOY_FILES]
    assert convert_cli.main([*argv, "--tflite-precisions", "float16,int8"]) == 0
    return out / TINY


def _files(meta: ExportMetadata, fmt: str, precision: str | None = None) -> list:
    return [f for f in meta.files if f.format == fmt and precision in (None, f.precision)]


def _check_metadata(export: Path, meta: ExportMetadata, tflite_precisions: tuple[str, ...]) -> None:
    """Every deployment file is listed once with its sha256, size, runtimes and parity (exact files)
    or drift (lossy files); the TFLite files are those of ``tflite_precisions``."""
    names = {f.path for f in meta.files}
    shape = "2x3x18x70x90"
    assert {f.path for f in meta.files if f.format == "tflite"} == {
        f"{TINY}.{kind}.{shape}.{precision}.tflite"
        for kind in ("classifier", "feature_extractor")
        for precision in tflite_precisions
    }
    assert f"{TINY}.model.Nx3x18x70x90.float32.onnx" in names
    assert f"{TINY}.model.Nx3x18x70x90.float32.xml" in names
    for f in meta.files:
        if f.format not in ("tflite", "onnx", "openvino"):
            continue
        path = export / f.path
        assert f.sha256 == _sha256(path)
        size = path.stat().st_size
        if f.format == "openvino":
            weights = export / f.details["weights_file"]
            assert f.details["weights_sha256"] == _sha256(weights)
            size += weights.stat().st_size
        assert f.size_bytes == size
        assert f.parity["vs_reference_max_abs"] == max(f.parity["outputs_max_abs"].values())
        assert f.details["runtimes"] and f.details["input_shape"][1:] == [3, 18, 70, 90]
        if f.precision == "float32":
            assert f.parity["exact"] and f.parity["vs_reference_max_abs"] <= f.parity["tolerance"] == 1e-4
        else:
            assert not f.parity["exact"] and "tolerance" not in f.parity
            assert f.parity["drift"]["inputs"] == 3
    onnx = _files(meta, "onnx")[0]
    assert len(onnx.details["runtimes"]) == 2  # proven in ONNX Runtime and OpenVINO
    tflite = _files(meta, "tflite", "float32")[0]
    assert not [op for op in tflite.details["operators"] if op.startswith("CUSTOM")]
    versions = meta.versions
    assert {"ai-edge-litert", "onnxruntime", "openvino", "tf2onnx"} <= set(versions)
    raw = json.loads((export / METADATA_FILE).read_text())
    assert len(raw["files"]) == len(meta.files)


@pytest.mark.slow  # `deploy_export` (LiteRT, ONNX, OpenVINO files, each proven), ~80 s, is built for these
def test_metadata_lists_every_file_with_sha256_and_parity(deploy_export, deploy_meta):
    _check_metadata(deploy_export, deploy_meta, ("float32",))


@pytest.mark.slow  # ~3 min: the export is rewritten, six TFLite files, four lossy with drift proofs
def test_asking_for_lossy_files_keeps_the_exact_ones(lossy_export):
    _check_metadata(lossy_export, ExportMetadata.read(lossy_export), ("float32", "float16", "int8"))


@pytest.mark.slow  # uses `deploy_export`
def test_more_tflite_precisions_rewrite_the_export_with_those_it_holds(deploy_export, deploy_meta):
    from porting.export_plan import ExportPlan, plan_export

    cfg, sha = get_variant(TINY), deploy_meta.source["checkpoint_sha256"]
    formats = ("savedmodel", "tflite")
    asked = ExportPlan(formats=formats, deploy_shape=GOLDEN_SHAPE, tflite_precisions=["int8"])
    assert {f.path for f in _files(deploy_meta, "tflite")}.isdisjoint(asked.deploy_paths(TINY))
    plan = plan_export(deploy_meta, cfg, sha, asked, deploy_export)
    assert plan.action == "write" and plan.overwrite
    assert plan.tflite_precisions == ("float32", "int8")  # the held float32 files stay
    held = {f.path for f in _files(deploy_meta, "tflite")}
    plan = plan_export(deploy_meta, cfg, sha, asked.replace(tflite_precisions=["float32"]), deploy_export)
    assert asked.replace(tflite_precisions=["float32"]).deploy_paths(TINY) == held
    assert plan.action == "skip"


@pytest.mark.parametrize(
    "value, message",
    [("float32,bf16", "unknown TFLite precision(s) ['bf16']"), (",", "no TFLite precision given")],
)
def test_bad_tflite_precisions_exit_2(value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        convert_cli.main(
            ["--variant", TINY, "--checkpoint", "x.pth", "--formats", "tflite", "--tflite-precisions", value]
        )
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_tflite_precisions_choose_the_planned_files():
    from tf_videoswin.export.deploy.targets import check_tflite_precisions, plan_targets

    targets = plan_targets(["tflite", "onnx"], GOLDEN_SHAPE, tflite_precisions=["int8", "float32", "int8"])
    assert [(t.format, t.kind, t.precision) for t in targets] == [
        ("tflite", "classifier", "float32"),
        ("tflite", "classifier", "int8"),
        ("tflite", "feature_extractor", "float32"),
        ("tflite", "feature_extractor", "int8"),
        ("onnx", "model", "float32"),
    ]
    assert len(plan_targets(["tflite"], GOLDEN_SHAPE)) == 6  # default: all three precisions
    with pytest.raises(ValueError, match="unknown TFLite precision"):
        check_tflite_precisions(["float64"])


@pytest.mark.slow  # uses `deploy_export`
def test_rerun_with_the_same_files_is_up_to_date(deploy_export, tiny_checkpoint, capsys):
    argv = [
        "--variant",
        TINY,
        "--checkpoint",
        str(tiny_checkpoint),
        "--output-dir",
        str(deploy_export.parent),
    ]
    assert convert_cli.main([*argv, *DEPLOY]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.slow
def test_model_card_says_which_files_are_lossy(lossy_export):
    card = (lossy_export / "README.md").read_text()
    assert "## Deployment files" in card
    for f in _files(ExportMetadata.read(lossy_export), "tflite"):
        row = next(line for line in card.splitlines() if line.startswith(f"| `{f.path}` | {f.kind} |"))
        if f.precision == "float32":
            assert "matches reference_torch" in row and "lossy" not in row
        else:
            assert "lossy, not exact" in row
            assert ("top-5 overlap" if f.kind == "classifier" else "pooled-feature cosine") in row


@pytest.mark.slow  # uses `deploy_export`
def test_litert_float32_files_equal_the_official_golden(deploy_export, deploy_meta, golden_outputs):
    golden = golden_outputs(TINY)
    for f in _files(deploy_meta, "tflite", "float32"):
        runner = open_runner(deploy_export / f.path)
        assert runner.input_shape == GOLDEN_SHAPE
        out = runner.run(golden["input"])
        assert set(out) == ({"logits"} if f.kind == "classifier" else {"features", "pooled"})
        assert _worst(golden, out) <= 1e-4, f.path


@pytest.mark.slow  # uses `deploy_export`
@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_onnx_equals_the_official_golden_at_any_batch(deploy_export, deploy_meta, golden_outputs, runtime):
    golden = golden_outputs(TINY)
    (f,) = _files(deploy_meta, "onnx")
    runner = open_runner(deploy_export / f.path, runtime)
    assert runner.input_shape == (None, 3, 18, 70, 90)
    assert _worst(golden, runner.run(golden["input"])) <= 1e-4
    one = {k: v[1:] for k, v in golden.items()}  # the dynamic batch axis: one clip alone
    assert _worst(one, runner.run(one["input"])) <= 1e-4


@pytest.mark.slow  # uses `deploy_export`
def test_openvino_ir_equals_the_official_golden(deploy_export, deploy_meta, golden_outputs):
    golden = golden_outputs(TINY)
    (f,) = _files(deploy_meta, "openvino")
    runner = open_runner(deploy_export / f.path)
    assert runner.runtime == "openvino" and runner.precision_hint == "f32"
    assert _worst(golden, runner.run(golden["input"])) <= 1e-4


@pytest.mark.slow
def test_lossy_files_load_run_and_report_drift(lossy_export, golden_outputs):
    golden = golden_outputs(TINY)
    lossy = [f for f in _files(ExportMetadata.read(lossy_export), "tflite") if f.precision != "float32"]
    assert sorted({f.precision for f in lossy}) == ["float16", "int8"]
    for f in lossy:
        out = open_runner(lossy_export / f.path).run(golden["input"])
        assert all(np.isfinite(v).all() for v in out.values())
        assert _worst(golden, out) > 0  # lossy: never bit-equal
        # ...but close: each output within a fraction of its own scale of the official one.
        bound = LOSSY_DRIFT[f.precision]
        for key, value in out.items():
            relative = float(np.abs(value - golden[key]).max() / np.abs(golden[key]).max())
            assert relative <= bound["relative_max_abs"], f"{f.path}: {key} off by {relative:.2e}"
        drift = f.parity["drift"]
        if f.kind == "classifier":
            assert 0.0 <= drift["logits_top5_overlap"] <= 1.0 and 0.0 <= drift["logits_top1_agreement"] <= 1.0
            assert drift["logits_max_abs"] > 0
        else:
            assert bound["pooled_cosine_min"] <= drift["pooled_cosine_min"] <= 1.0
            assert drift["features_max_abs"] > 0


@pytest.mark.slow  # uses `deploy_export`
def test_float32_file_that_misses_the_reference_is_refused(deploy_export, deploy_meta, golden_outputs):
    from tf_videoswin.export.deploy.writer import prove_file

    golden = golden_outputs(TINY)
    (f,) = _files(deploy_meta, "onnx")
    wrong = ProofInput("golden + 1e-3", golden["input"], {k: v + 1e-3 for k, v in golden.items()})
    target = DeployTarget("onnx", "model", "float32", (None, 3, 18, 70, 90))
    with pytest.raises(ExportCheckError, match="differs from the reference"):
        prove_file(deploy_export / f.path, target, wrong, (), 1e-4)


@pytest.mark.slow  # uses `deploy_export`
def test_formats_benchmark_times_every_file_and_runtime(deploy_export, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import formats

    argv = ["--export", str(deploy_export), "--formats", "onnx,openvino", "--runs", "1", "--json"]
    assert formats.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["input_shape"] == [1, 3, 18, 70, 90]
    runtimes = [(Path(r["file"]).suffix, r["runtime"].split()[0]) for r in result["rows"]]
    # The IR runs twice in OpenVINO: f32 and its CPU default precision (bf16 where the CPU has it).
    assert runtimes == [
        (".onnx", "onnxruntime"),
        (".onnx", "openvino"),
        (".xml", "openvino"),
        (".xml", "openvino"),
    ]
    for r in result["rows"]:
        assert r["seconds"] > 0 and r["clips_per_second"] == pytest.approx(1 / r["seconds"])
        assert r["size_mb"] > 0 and r["peak_rss_mb"] > 0
    # f32 rows match the first f32 row to float32 round-off; the bf16-compute row is reported as it is.
    f32 = [r for r in result["rows"] if "bf16" not in r["precision"]]
    assert all(r["drift_max_abs_vs_float32"] <= 1e-4 for r in f32)


# ------------------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    "shape, message",
    [
        ("1,3,32,224", "five integers"),
        ("1,3,32,224,x", "five integers"),
        ("1,4,32,224,224", "3 (RGB) channels"),
        ("1,3,0,224,224", "positive sizes"),
    ],
)
def test_bad_deploy_shape_exits_2(shape, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        convert_cli.main(
            ["--variant", TINY, "--checkpoint", "x.pth", "--formats", "tflite", "--deploy-shape", shape]
        )
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_runtime_exits_2_and_names_the_install(tmp_path, tiny_checkpoint, monkeypatch, capsys):
    import importlib

    real = importlib.import_module

    def without_tf2onnx(name, *args, **kwargs):
        if name.split(".")[0] == "tf2onnx":
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr("tf_videoswin.optional.importlib.import_module", without_tf2onnx)
    out = tmp_path / "out"
    argv = [
        "--variant",
        TINY,
        "--checkpoint",
        str(tiny_checkpoint),
        "--output-dir",
        str(out),
        "--formats",
        "onnx",
    ]
    assert convert_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "'tf2onnx'" in err and "pip install 'tf-videoswin[deploy]'" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_failed_conversion_exits_2_and_writes_nothing(tmp_path, tiny_checkpoint, monkeypatch, capsys):
    def broken(model, target, workdir=None):
        raise DeploymentError("TFLite conversion of classifier (float32) failed: synthetic failure")

    monkeypatch.setattr("tf_videoswin.export.deploy.tflite_file.convert_tflite", broken)
    # The SavedModels before it are tested elsewhere; a stand-in keeps this test fast.
    writer = "tf_videoswin.export.writer"
    monkeypatch.setattr(f"{writer}.save_export", lambda model, kind, path, **kw: Path(path).mkdir())
    monkeypatch.setattr(f"{writer}.verify_reload", lambda export_dir, cases: {})
    monkeypatch.setattr(f"{writer}.savedmodel_files", lambda root, reload, cases: [])
    out = tmp_path / "out"
    argv = [
        "--variant",
        TINY,
        "--checkpoint",
        str(tiny_checkpoint),
        "--output-dir",
        str(out),
        "--formats",
        "tflite",
    ]
    argv += [
        "--deploy-shape",
        "1,3,4,32,32",
        "--parity-shape",
        "1,3,4,32,32",
    ]  # small: the failure is the point
    assert convert_cli.main(argv) == 2
    assert "synthetic failure" in capsys.readouterr().err
    assert list(out.iterdir()) == []  # no export, no temporary folder


# ------------------------------------------------------------------------------------- slow cases
def _convert_model_files(variant: str, state_dict, folder: Path) -> dict[str, Path]:
    """TFLite (all outputs, float32) and ONNX files of ``variant`` at the golden shape."""
    from porting.pipeline import port_checkpoint
    from tf_videoswin.export.deploy.onnx_file import convert_onnx
    from tf_videoswin.export.deploy.tflite_file import convert_tflite

    model = port_checkpoint(variant, state_dict, reference=False).tf_model
    tflite = folder / "model.tflite"
    data, _ = convert_tflite(model, DeployTarget("tflite", "model", "float32", GOLDEN_SHAPE))
    tflite.write_bytes(data)
    onnx = folder / "model.onnx"
    convert_onnx(model, DeployTarget("onnx", "model", "float32", (None, *GOLDEN_SHAPE[1:])), onnx)
    return {"tflite": tflite, "onnx": onnx}


@pytest.mark.slow
def test_swin_b_sthv2_files_equal_the_official_golden(tmp_path, synthetic_state_dict, golden_outputs):
    """Swin-B with 16x7x7 windows (sthv2): LiteRT and ONNX (both runtimes) within 1e-4 of the official
    outputs. Slow: converting Swin-B takes minutes on a 2-core machine."""
    golden = golden_outputs(STHV2)
    files = _convert_model_files(STHV2, synthetic_state_dict(STHV2), tmp_path)
    for path, runtime in [
        (files["tflite"], None),
        (files["onnx"], "onnxruntime"),
        (files["onnx"], "openvino"),
    ]:
        assert _worst(golden, open_runner(path, runtime).run(golden["input"])) <= 1e-4, (path.name, runtime)


@pytest.mark.slow
def test_full_size_deployment_files(tmp_path, tiny_checkpoint):
    """The default deploy shape (1x3x32x224x224): every file written and proven by the CLI."""
    out = tmp_path / "out"
    argv = ["--variant", TINY, "--checkpoint", str(tiny_checkpoint), "--output-dir", str(out)]
    assert convert_cli.main([*argv, "--formats", "tflite,onnx,openvino"]) == 0
    meta = ExportMetadata.read(out / TINY)
    deploy = [f for f in meta.files if f.format in ("tflite", "onnx", "openvino")]
    assert len(deploy) == 8
    assert all(f.details["input_shape"][1:] == [3, 32, 224, 224] for f in deploy)
    assert all(f.parity["vs_reference_max_abs"] <= 1e-4 for f in deploy if f.precision == "float32")
