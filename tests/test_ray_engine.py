"""The Ray engine gives the local engine's features bit for bit, reports bad videos, resumes."""

import json

import numpy as np
import pytest

from tf_videoswin import extract_features

from .conftest import require
from .videos import write_video

ray = require("ray", "ray")
require("pyarrow", "ray")


@pytest.fixture(scope="module", autouse=True)
def ray_runtime():
    """One local Ray runtime for the module (the engine reuses a running one instead of starting its own)."""
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow  # ~2 min: a Ray cluster, two runs and a local run
def test_ray_matches_local_and_resumes(tiny_export, tmp_path, capsys):
    from tf_videoswin.features import read_features

    videos = tmp_path / "videos"
    videos.mkdir()
    good = [
        write_video(videos / f"v{i}.mp4", frames=36 + 4 * i, height=48, width=64, seed=20 + i)
        for i in range(3)
    ]
    (videos / "broken.mp4").write_bytes(np.random.default_rng(3).bytes(3000))
    model = str(tiny_export / "feature_extractor")

    local = tmp_path / "local.npz"
    local_argv = [str(videos), "--model", model, "--out", str(local), "--format", "npz", "--no-progress"]
    assert extract_features.main(local_argv) == 3
    capsys.readouterr()
    out = tmp_path / "ray_out"
    argv = [str(videos), "--model", model, "--out", str(out), "--engine", "ray", "--num-actors", "2"]
    assert extract_features.main(argv) == 3
    assert "3 extracted, 0 already done (skipped), 1 failed" in capsys.readouterr().out
    ray_rows = read_features(out)
    with np.load(local) as data:
        local_rows = dict(zip(data["paths"].tolist(), data["pooled"], strict=True))
    assert sorted(ray_rows) == sorted(local_rows) == sorted(str(p) for p in good)
    for path, pooled in local_rows.items():
        np.testing.assert_array_equal(ray_rows[path], pooled)  # bit for bit
    errors = json.loads((out / "_errors.json").read_text())  # "_": Parquet readers skip it
    assert [e["path"] for e in errors] == [str(videos / "broken.mp4")]

    # Re-run: nothing recomputed, nothing lost.
    assert extract_features.main(argv) == 3
    assert "0 extracted, 3 already done (skipped)" in capsys.readouterr().out
    assert sorted(read_features(out)) == sorted(ray_rows)


@pytest.mark.slow  # ~2 min: four extraction runs, two of them starting a Ray actor (a TensorFlow process)
def test_both_engines_write_identical_parquet(tiny_export, tmp_path, capsys):
    """Same folder layout, same schema, same values: one vector per video (with feature maps) and snippets."""
    import pyarrow.parquet as pq

    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(2):
        write_video(videos / f"s{i}.mp4", frames=20 + 6 * i, height=40, width=56, seed=60 + i)
    (videos / "broken.mp4").write_bytes(np.random.default_rng(5).bytes(3000))
    model = str(tiny_export / "feature_extractor")
    modes = {
        "video": ["--save-feature-map"],
        "snippets": [
            "--snippets",
            "--snippet-frames",
            "8",
            "--stride",
            "6",
            "--fps",
            "12",
            "--snippet-tokens",
        ],
    }
    for mode, options in modes.items():
        tables = {}
        for engine in ("local", "ray"):
            out = tmp_path / f"{mode}_{engine}"
            argv = [str(videos), "--model", model, "--out", str(out), "--engine", engine, "--no-progress"]
            assert extract_features.main([*argv, "--num-actors", "1", *options]) == 3
            assert "2 extracted, 0 already done (skipped), 1 failed" in capsys.readouterr().out
            keys = [("path", "ascending")] + ([("snippet_index", "ascending")] if mode == "snippets" else [])
            tables[engine] = pq.read_table(out).sort_by(keys)
            errors = json.loads((out / "_errors.json").read_text())
            assert [e["path"] for e in errors] == [str(videos / "broken.mp4")]
            assert json.loads((out / "_manifest.json").read_text())["mode"] == mode
        assert tables["local"].schema == tables["ray"].schema
        assert tables["local"].equals(tables["ray"]), mode  # bit for bit
        if mode == "snippets":  # 20 and 26 frames at 24 fps -> 10 and 13 frames at 12 fps
            assert tables["local"].column("path").to_pylist().count(str(videos / "s0.mp4")) == 2
            for name in ("s0", "s1"):
                np.testing.assert_array_equal(
                    np.load(tmp_path / "snippets_local" / "_npy" / f"{name}.npy"),
                    np.load(tmp_path / "snippets_ray" / "_npy" / f"{name}.npy"),
                )


def test_ray_rejects_npz_output(tiny_export, tmp_path, capsys):
    argv = [
        str(tmp_path),
        "--model",
        str(tiny_export / "feature_extractor"),
        "--out",
        str(tmp_path / "x.npz"),
        "--engine",
        "ray",
    ]
    assert extract_features.main(argv) == 2
    assert "directory of Parquet parts" in capsys.readouterr().err


def test_missing_ray_gives_install_hint(monkeypatch):
    import sys

    from tf_videoswin.errors import MissingDependencyError
    from tf_videoswin.features.ray_engine import require_ray

    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'tf-videoswin\[ray\]'"):
        require_ray()


@pytest.mark.slow  # ~35 s: a Ray runtime and its actors
def test_ray_predict_writes_top_k_like_local(tiny_export, tmp_path, capsys):
    import pyarrow.parquet as pq

    from tf_videoswin import predict

    videos = [
        write_video(tmp_path / f"p{i}.mp4", frames=40, height=48, width=64, seed=40 + i) for i in range(2)
    ]
    model = str(tiny_export / "classifier")
    common = [*map(str, videos), "--model", model, "--views", "single", "--top-k", "3"]
    assert predict.main([*common, "--json", "--no-progress"]) == 0
    local = {r["video"]: r["top_k"] for r in json.loads(capsys.readouterr().out)["results"]}
    out = tmp_path / "pred"
    assert predict.main([*common, "--engine", "ray", "--out", str(out), "--num-actors", "1"]) == 0
    assert "2 predicted" in capsys.readouterr().out
    table = pq.read_table(out).to_pylist()
    assert sorted(r["path"] for r in table) == sorted(local)
    for row in table:
        expected = local[row["path"]]
        assert row["top_k_label"] == [t["label"] for t in expected]
        np.testing.assert_allclose(row["top_k_probability"], [t["probability"] for t in expected], rtol=1e-6)
