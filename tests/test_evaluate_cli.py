"""evaluate: metrics equal a hand count of the per-video predictions, failures are listed, runs resume,
and --compare-torch reproduces the reference on the same views."""

import csv
import json
import shutil
import sys

import numpy as np
import pytest

from tf_videoswin import evaluate
from tf_videoswin.export.metadata import ExportMetadata

from .conftest import require
from .videos import write_video

CLASSES = {
    "red_right": ((230, 40, 40), "right"),
    "green_left": ((40, 220, 40), "left"),
    "still": ((40, 60, 230), "still"),
}


@pytest.fixture(scope="module")
def small_view_export(tiny_export, tmp_path_factory):
    """The converted Swin-T classifier with its test pipeline at 8x48x48, 2 clips x 3 crops (the
    SavedModel is shape-dynamic; only the metadata's preprocessing changes)."""
    root = tmp_path_factory.mktemp("small_view_export") / "export"
    shutil.copytree(tiny_export / "classifier", root / "classifier")
    meta = ExportMetadata.read(tiny_export)
    pre = meta.preprocessing.__class__.from_dict(
        {**meta.preprocessing.to_dict(), "clip_len": 8, "num_clips": 2, "short_side": 48, "crop_size": 48}
    )
    import dataclasses

    dataclasses.replace(meta, preprocessing=pre).write(root)
    return root


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Six videos of three classes, a missing one and a corrupt one, in an mmaction list."""
    root = tmp_path_factory.mktemp("labelled")
    (root / "videos").mkdir()
    lines = []
    for label, (name, (color, motion)) in enumerate(CLASSES.items()):
        for i in range(2):
            rel = f"{name}/{i}.mp4"
            (root / "videos" / name).mkdir(exist_ok=True)
            write_video(
                root / "videos" / rel, frames=20 + 4 * i, height=48, width=64, color=color, motion=motion
            )
            lines.append(f"{rel} {label}")
    (root / "videos" / "broken.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    lines += ["missing/none.mp4 1", "broken.mp4 2"]
    listing = root / "val_list.txt"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing, root / "videos"


def _run(capsys, *argv):
    code = evaluate.main([*map(str, argv), "--json", "--no-progress"])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if out.out.strip() else None), out.err


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _hand_count(rows, extra_misses=()):
    """top-1, top-5 and mmaction's mean class accuracy, counted from the CSV rows."""
    labels = [int(r["label"]) for r in rows] + [int(m) for m in extra_misses]
    preds = [int(r["top1"]) for r in rows] + [None] * len(extra_misses)
    top5 = [int(r["label"]) in [int(v) for v in r["top5"].split()] for r in rows] + [False] * len(
        extra_misses
    )
    classes = set(labels) | {p for p in preds if p is not None}
    recalls = []
    for c in classes:
        members = [p for p, y in zip(preds, labels, strict=True) if y == c]
        recalls.append(sum(p == c for p in members) / len(members) if members else 0.0)
    return (
        sum(p == y for p, y in zip(preds, labels, strict=True)) / len(labels),
        sum(top5) / len(labels),
        sum(recalls) / len(recalls),
    )


def test_metrics_equal_a_hand_count_and_failures_are_listed(small_view_export, labelled, tmp_path, capsys):
    listing, videos = labelled
    out = tmp_path / "pred.csv"
    code, doc, err = _run(capsys, listing, "--model", small_view_export, "--data-root", videos, "--out", out)
    assert code == 3, err
    rows = _csv(out)
    assert len(rows) == doc["videos"] == 6 and doc["listed"] == 8
    assert sorted(doc["failed"]) == sorted([str(videos / "missing/none.mp4"), str(videos / "broken.mp4")])
    assert (doc["missing"], doc["undecodable"], doc["failed_counted_as"]) == (1, 1, "excluded")
    top1, top5, mca = _hand_count(rows)
    assert doc["top1"] == pytest.approx(top1) and doc["top5"] == pytest.approx(top5)
    assert doc["mean_class_accuracy"] == pytest.approx(mca)
    for r in rows:
        probs = [float(p) for p in r["top5_probability"].split()]
        assert len(probs) == 5 and probs == sorted(probs, reverse=True) and r["top1"] == r["top5"].split()[0]
    assert json.loads((tmp_path / "pred.csv.json").read_text())["summary"]["top1"] == doc["top1"]

    # Failed videos as misses: same predictions, larger denominators.
    code, wrong, _ = _run(
        capsys,
        listing,
        "--model",
        small_view_export,
        "--data-root",
        videos,
        "--out",
        out,
        "--failed-as-wrong",
    )
    assert code == 3 and wrong["already_predicted"] == 6 and wrong["failed_counted_as"] == "wrong"
    top1, top5, mca = _hand_count(rows, extra_misses=[1, 2])
    assert wrong["top1"] == pytest.approx(top1) and wrong["top5"] == pytest.approx(top5)
    assert wrong["mean_class_accuracy"] == pytest.approx(mca)


def test_resume_skips_done_videos_and_repairs_a_torn_row(small_view_export, labelled, tmp_path, capsys):
    listing, videos = labelled
    out = tmp_path / "pred.csv"
    argv = [listing, "--model", small_view_export, "--data-root", videos, "--out", out, "--views", "single"]
    code, first, _ = _run(capsys, *argv)
    assert code == 3 and first["already_predicted"] == 0
    text = out.read_text()
    out.write_text(text[: text.rstrip("\n").rfind("\n") + 1] + text.rstrip("\n").splitlines()[-1][:10])
    code, second, _ = _run(capsys, *argv)  # the torn last row is dropped and that video redone
    assert code == 3 and second["already_predicted"] == 5
    assert {k: second[k] for k in ("top1", "top5", "mean_class_accuracy", "videos")} == {
        k: first[k] for k in ("top1", "top5", "mean_class_accuracy", "videos")
    }
    assert len(_csv(out)) == 6
    # Other views are another evaluation: refused without --overwrite.
    code, _, err = _run(capsys, *argv[:-2])
    assert code == 2 and "another model or views" in err


def test_compare_torch_agrees_on_the_same_views(
    small_view_export, tiny_checkpoint, labelled, tmp_path, capsys
):
    listing, videos = labelled
    out = tmp_path / "cmp.csv"
    code, doc, err = _run(
        capsys, listing, "--model", small_view_export, "--data-root", videos, "--out", out,
        "--compare-torch", tiny_checkpoint, "--views", "single",
    )  # fmt: skip
    assert code == 3, err
    cmp = doc["compare_torch"]
    assert cmp["top1_agreement"] == 1.0 and cmp["max_prob_diff"] <= 1e-4
    assert len(cmp["per_video"]) == 6
    assert all(v["tf_top1"] == v["torch_top1"] and v["max_prob_diff"] <= 1e-4 for v in cmp["per_video"])
    rows = _csv(out)
    assert all(r["torch_top1"] == r["top1"] for r in rows)


def test_compare_torch_refuses_another_checkpoint_and_missing_torch(
    small_view_export, labelled, tmp_path, capsys, monkeypatch
):
    listing, videos = labelled
    other = tmp_path / "other.pth"
    other.write_bytes(b"not the export's checkpoint")
    argv = [listing, "--model", small_view_export, "--data-root", videos, "--out", tmp_path / "p.csv"]
    code, _, err = _run(capsys, *argv, "--compare-torch", other)
    assert code == 2 and "is not the checkpoint the export was converted from" in err
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    code, _, err = _run(capsys, *argv, "--compare-torch", other)
    assert code == 2 and "pip install 'tf-videoswin[convert]'" in err


def test_bad_lists_are_refused(small_view_export, tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("a.mp4 0\nb.mp4 zero\n")
    code, _, err = _run(capsys, bad, "--model", small_view_export)
    assert code == 2 and "bad.txt:2" in err
    bad.write_text("a.mp4 400\n")  # Kinetics-400: indices 0..399
    code, _, err = _run(capsys, bad, "--model", small_view_export)
    assert code == 2 and "out of range for 400 classes" in err


@pytest.mark.slow  # ~80 s: a Ray runtime, a local and two Ray evaluations
def test_ray_engine_gives_the_local_predictions(small_view_export, labelled, tmp_path, capsys):
    ray = require("ray", "ray")
    require("pyarrow", "ray")
    listing, videos = labelled
    common = [listing, "--model", small_view_export, "--data-root", videos, "--views", "single"]
    code, local, _ = _run(capsys, *common, "--out", tmp_path / "local.csv")
    assert code == 3
    ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        argv = [*common, "--out", tmp_path / "parts", "--engine", "ray", "--num-actors", "1"]
        code, remote, err = _run(capsys, *argv)
        assert code == 3, err
        code, again, _ = _run(capsys, *argv)  # resumes: nothing left to predict
    finally:
        ray.shutdown()
    assert list((tmp_path / "parts").glob("part-*.parquet"))
    for key in ("top1", "top5", "mean_class_accuracy", "videos", "missing", "undecodable"):
        assert remote[key] == local[key], key
    assert sorted(remote["failed"]) == sorted(local["failed"])
    assert code == 3 and again["already_predicted"] == 6 and again["top1"] == local["top1"]


def test_evaluate_from_python_with_keywords(small_view_export, labelled, tmp_path):
    """The library call behind the app: the same summary as a result object, resumable, no printing."""
    from tf_videoswin.evaluation.evaluate import EvaluationResult, evaluate

    listing, videos = labelled
    out = tmp_path / "py.csv"
    kwargs = dict(annotations=listing, model=small_view_export, data_root=videos, output=out, progress=False)
    result = evaluate(**kwargs)
    assert isinstance(result, EvaluationResult)
    assert (result.videos, result.listed, result.missing, result.undecodable) == (6, 8, 1, 1)
    assert sorted(result.failed) == sorted([str(videos / "missing/none.mp4"), str(videos / "broken.mp4")])
    assert result.top1 == pytest.approx(_hand_count(_csv(out))[0]) and "compare_torch" not in result.to_dict()
    assert json.loads((tmp_path / "py.csv.json").read_text())["summary"] == result.to_dict()
    again = evaluate(**kwargs, failed_as_wrong=True)
    assert again.already_predicted == 6 and again.failed_counted_as == "wrong"
    with pytest.raises(ValueError, match="engine"):
        evaluate(**{**kwargs, "engine": "spark"})
