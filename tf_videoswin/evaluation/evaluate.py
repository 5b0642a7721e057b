"""Evaluation as one call: an export's accuracy on an annotation list, resumable, with the official views.

    from tf_videoswin.evaluation.evaluate import evaluate

    result = evaluate(annotations="val_list.txt", model="exports/<variant>", data_root="videos/")
    result.top1, result.failed

``python -m tf_videoswin.evaluate`` (:mod:`tf_videoswin.cli.evaluate`) parses its flags, calls
:func:`evaluate` and prints the :class:`EvaluationResult`. Messages go to ``logging``; the progress bar
(``progress=False`` turns it off) is the only output.

Importing this module imports neither TensorFlow nor torch; :func:`evaluate` does.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..video.sampling import VIEW_MODES

logger = logging.getLogger(__name__)

#: The k of the top-k predictions stored per video and of the reported top-k accuracy.
TOP_K = 5
ENGINES = ("local", "ray")

PathLike = str | os.PathLike


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
    """The metrics of a run (mmaction's definitions; ``None`` where no video was evaluated) and what
    failed. ``failed``: paths of listed videos that are missing (``missing`` of them) or undecodable,
    with their ``errors`` (``{"path", "error", "missing"}``); ``already_predicted``: videos whose
    prediction an earlier run had stored; ``predictions``: the predictions file or folder (``None`` when
    nothing was evaluated and the run left none); ``compare_torch``: the reference comparison, when
    asked for."""

    top1: float | None
    top5: float | None
    mean_class_accuracy: float | None
    videos: int
    listed: int
    failed: list[str]
    missing: int
    undecodable: int
    failed_counted_as: str
    already_predicted: int
    errors: list[dict[str, Any]]
    predictions: str | None
    model: str
    variant: str
    views: str
    compare_torch: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (``--json``, and the predictions' sidecar); ``compare_torch`` only when run."""
        d = dataclasses.asdict(self)
        if d["compare_torch"] is None:
            del d["compare_torch"]
        return d


def evaluate(
    *,
    annotations: PathLike,
    model: PathLike,
    data_root: PathLike | None = None,
    views: str = "official",
    batch_size: int = 4,
    output: PathLike | None = None,
    failed_as_wrong: bool = False,
    overwrite: bool = False,
    compare_torch: PathLike | None = None,
    trust_checkpoint: bool = False,
    engine: str = "local",
    verify: bool = True,
    num_actors: int = 2,
    address: str | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate an export on an mmaction annotation list, as ``python -m tf_videoswin.evaluate`` does.

    Each video is viewed as the export's metadata says (``views="single"``: one centre clip) and softmax
    is averaged over views. Per-video predictions go to ``output`` as they are made (a ``.csv``; with
    ``engine="ray"`` a folder of Parquet parts; default ``./<LIST>.predictions.csv`` or
    ``./<LIST>.predictions/``), so calling again resumes (failed videos are retried).

    Args:
        annotations: ``relative/path.mp4 label_index`` per line.
        model: an export folder (or its ``classifier/``).
        data_root: the folder the list's paths are relative to (default: the list's folder).
        views: ``"official"`` or ``"single"``.
        batch_size: views per forward pass.
        output: the predictions file (local) or folder (ray).
        failed_as_wrong: count missing or undecodable videos as misses (default: excluded).
        overwrite: discard predictions already in ``output``.
        compare_torch: a ``.pth`` (the export's checkpoint): also run ``reference_torch`` on the same
            views (local engine).
        trust_checkpoint: allow full unpickling of ``compare_torch``.
        engine: ``"local"`` (this process) or ``"ray"`` (Ray Data).
        verify: check the export's files against its metadata.
        num_actors, address: the Ray engine's model actors and cluster (default: a local runtime).
        progress: show a progress bar (local engine).
    Returns:
        The :class:`EvaluationResult`.
    Raises:
        DatasetError, ExportFormatError, OutputBusyError, OSError: bad list, export, options or output.
    """
    from ..datasets import read_annotation_list
    from ..errors import DatasetError, ExportFormatError
    from ..export.serving import load_serving
    from ..output_lock import OutputLock, lock_file_for

    if views not in VIEW_MODES:
        raise ValueError(f"views must be one of {VIEW_MODES}, got {views!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    annotations = Path(annotations)
    if compare_torch is not None and engine == "ray":
        raise ExportFormatError("--compare-torch runs locally; drop --engine ray")
    rows = read_annotation_list(annotations, None if data_root is None else Path(data_root))
    serving = load_serving(_classifier_dir(Path(model)), ("logits",), verify=verify)
    meta = serving.metadata
    num_classes = meta.architecture.num_classes
    labels = {}
    for path, (label,) in rows:
        if label >= num_classes:
            raise DatasetError(
                f"{annotations}: label {label} of {path} is out of range for {num_classes} classes"
            )
        labels[path] = label
    if len(labels) != len(rows):
        raise DatasetError(f"{annotations}: {len(rows) - len(labels)} videos are listed twice")
    default = f"{annotations.stem}.predictions" + ("" if engine == "ray" else ".csv")
    out = Path(output) if output is not None else Path(default)
    if engine == "ray" and out.suffix == ".csv":
        raise ExportFormatError("with --engine ray, --out is a folder of Parquet parts, not a .csv file")
    if engine == "local" and out.suffix != ".csv":
        raise ExportFormatError(f"--out must end with .csv for the local engine, got {out}")
    identity = {
        "export": str(serving.path.resolve()),
        "variant": meta.variant,
        "classifier_sha256": next((f.sha256 for f in meta.files if f.path == "classifier"), None),
        "views": views,
        "preprocessing": meta.preprocessing.to_dict(),
    }
    run = _Run(
        annotations=annotations,
        views=views,
        batch_size=batch_size,
        failed_as_wrong=failed_as_wrong,
        overwrite=overwrite,
        compare_torch=None if compare_torch is None else Path(compare_torch),
        trust_checkpoint=trust_checkpoint,
        engine=engine,
        num_actors=num_actors,
        address=address,
        progress=progress,
    )
    with OutputLock(out, lock_file_for(out, inside=False)):  # one writer: each video's row once
        return _evaluate(run, serving, labels, out, identity)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Run:
    """The options the prediction and summary steps read."""

    annotations: Path
    views: str
    batch_size: int
    failed_as_wrong: bool
    overwrite: bool
    compare_torch: Path | None
    trust_checkpoint: bool
    engine: str
    num_actors: int
    address: str | None
    progress: bool


def _classifier_dir(model: Path) -> Path:
    return model / "classifier" if (model / "classifier" / "saved_model.pb").is_file() else model


def _evaluate(run: _Run, serving, labels: dict[str, int], out: Path, identity: dict) -> EvaluationResult:
    """Predict (resuming) and summarise, as the only writer of ``out``."""
    from ..errors import ExportFormatError
    from . import store as store_lib

    if run.overwrite:
        store_lib.remove_predictions(out)
    store_lib.remove_stale_temporaries(out)
    previous = store_lib.read_sidecar(out)
    created = previous is None and not out.exists()  # so a run that evaluates nothing leaves nothing
    if previous is not None and previous.get("model") != identity:
        raise ExportFormatError(
            f"{out} holds predictions of another model or views ({previous.get('model', {}).get('variant')}, "
            f"{previous.get('model', {}).get('views')}); use another --out or --overwrite"
        )
    store_lib.write_sidecar(out, {"model": identity, "list": str(run.annotations)})

    if run.engine == "ray":
        predictions, errors, skipped = _predict_ray(run, serving, labels, out)
        comparisons = None
    else:
        predictions, errors, skipped, comparisons = _predict_local(run, serving, labels, out)
    summary = _summary(run, labels, predictions, errors, skipped, comparisons, out, identity)
    if summary["videos"] == 0 and created:
        store_lib.remove_predictions(out)
        summary["predictions"] = None
    else:
        store_lib.write_sidecar(out, {"model": identity, "list": str(run.annotations), "summary": summary})
    return EvaluationResult(**summary)


def _predict_local(run: _Run, serving, labels: dict[str, int], out: Path):
    from tqdm import tqdm

    from ..errors import VideoError
    from ..export.serving import predict_views
    from ..video import load_views
    from .reference import compare, load_reference, reference_probabilities
    from .store import CsvPredictionStore, Prediction

    store = CsvPredictionStore(out)
    reference = None
    if run.compare_torch is not None:
        reference = load_reference(serving.metadata, run.compare_torch, run.trust_checkpoint)

    def done(path: str) -> bool:
        row = store.rows.get(path)
        return row is not None and (reference is None or row.torch_top1 is not None)

    todo = [p for p in labels if not done(p)]
    errors: list[dict] = []
    pre = serving.metadata.preprocessing
    for path in tqdm(todo, unit="video", disable=not run.progress, file=sys.stderr):
        try:
            views = load_views(path, pre, run.views)
        except VideoError as e:
            errors.append({"path": path, "error": str(e), "missing": not Path(path).is_file()})
            continue
        probs = predict_views(serving, views, run.batch_size)
        top = np.argsort(-probs, kind="stable")[:TOP_K]
        torch_top1 = diff = None
        if reference is not None:
            c = compare(path, probs, reference_probabilities(reference, views, run.batch_size))
            torch_top1, diff = c.torch_top1, c.max_prob_diff
        store.add(
            Prediction(
                path,
                labels[path],
                tuple(int(i) for i in top),
                tuple(float(probs[i]) for i in top),
                torch_top1,
                diff,
            )
        )
    predictions = {p: store.rows[p] for p in labels if p in store.rows}
    return predictions, errors, len(labels) - len(todo), reference is not None


def _predict_ray(run: _Run, serving, labels: dict[str, int], out: Path):
    from ..features.ray_engine import PredictionRequest, predict_with_ray
    from .store import read_parquet_predictions

    _, skipped, errors = predict_with_ray(
        list(labels),
        model=serving.path,
        output=out,
        variant=serving.metadata.variant,
        preprocessing=serving.metadata.preprocessing,
        labels=serving.labels,
        request=PredictionRequest(top_k=TOP_K, views=run.views, batch_size=run.batch_size),
        num_actors=run.num_actors,
        address=run.address,
    )
    for e in errors:
        e["missing"] = not Path(e["path"]).is_file()
    return read_parquet_predictions(out, labels), errors, skipped


def _summary(run: _Run, labels, predictions, errors, skipped, compared, out, identity) -> dict:
    from .metrics import mean_class_accuracy, top_k_accuracy

    failed = [e["path"] for e in errors]
    evaluated = [p for p in labels if p in predictions]
    rows = [(predictions[p].top_k, predictions[p].label) for p in evaluated]
    if run.failed_as_wrong:
        rows += [((-1,), labels[p]) for p in failed]
    summary: dict = {
        "top1": None,
        "top5": None,
        "mean_class_accuracy": None,
        "videos": len(evaluated),
        "listed": len(labels),
        "failed": failed,
        "missing": sum(1 for e in errors if e["missing"]),
        "undecodable": sum(1 for e in errors if not e["missing"]),
        "failed_counted_as": "wrong" if run.failed_as_wrong else "excluded",
        "already_predicted": skipped,
        "errors": errors,
        "predictions": str(out),
        "model": identity["export"],
        "variant": identity["variant"],
        "views": run.views,
    }
    if rows:
        tops, real = [r[0] for r in rows], [r[1] for r in rows]
        summary["top1"] = top_k_accuracy(tops, real, 1)
        summary["top5"] = top_k_accuracy(tops, real, TOP_K)
        summary["mean_class_accuracy"] = mean_class_accuracy([t[0] for t in tops], real)
    if compared:
        per_video = [
            {
                "path": p,
                "tf_top1": predictions[p].top1,
                "torch_top1": predictions[p].torch_top1,
                "max_prob_diff": predictions[p].torch_max_prob_diff,
            }
            for p in evaluated
        ]
        summary["compare_torch"] = {
            "checkpoint": str(run.compare_torch),
            "top1_agreement": (
                float(np.mean([v["tf_top1"] == v["torch_top1"] for v in per_video])) if per_video else None
            ),
            "max_prob_diff": max((v["max_prob_diff"] for v in per_video), default=None),
            "per_video": per_video,
        }
    return summary
