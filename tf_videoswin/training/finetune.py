"""Fine-tuning as one call: data, model, memory plan, resume, the training loop and the export.

    from tf_videoswin.training.finetune import finetune

    result = finetune(
        data="videos/", variant="swin_tiny_patch244_window877_kinetics400_1k", epochs=10,
        output_dir="exports/mine", checkpoint="swin_tiny.pth",
    )
    result.history[-1]["val_top1"]

``python -m tf_videoswin.finetune`` (:mod:`tf_videoswin.cli.finetune`) parses its flags into a
:class:`FinetuneConfig`, calls :func:`finetune` and prints the :class:`FinetuneResult`. Messages go to
``logging``; the training progress bar is the loop's own (``progress=False`` turns it off).

Importing this module imports neither TensorFlow nor torch; :func:`finetune` does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ..config import TRAINING_PRECISIONS

logger = logging.getLogger("tf_videoswin.finetune")

PathLike = str | os.PathLike


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
    """What a fine-tuning run does; the defaults are the command line's.

    Required: ``data`` (a folder of class folders, or an mmaction annotation list), ``variant`` (the
    architecture and recipe, a name of :data:`tf_videoswin.variants.VARIANTS`), ``epochs`` and
    ``output_dir`` (the export folder to write). The recipe overrides (``lr`` .. ``short_side``) replace
    the variant's official values where given; ``crop_size`` alone also sets ``short_side`` to
    ``crop_size * 256 / 224``. ``work_dir`` defaults to ``OUTPUT_DIR.train``; ``memory_budget_gb`` to
    80% of this machine's memory. Path fields accept strings.
    """

    data: Path
    variant: str
    epochs: int
    output_dir: Path
    checkpoint: Path | None = None
    trust_checkpoint: bool = False
    work_dir: Path | None = None
    data_root: Path | None = None
    labels: Path | None = None
    multi_label: bool = False
    val: Path | None = None
    val_every: int = 1
    # recipe overrides (None: the variant's official config)
    lr: float | None = None
    weight_decay: float | None = None
    batch_size: int | None = None
    update_interval: int | None = None
    warmup_epochs: float | None = None
    label_smoothing: float | None = None
    param_groups: str = "mmcv"
    clip_len: int | None = None
    frame_interval: int | None = None
    crop_size: int | None = None
    short_side: int | None = None
    # run
    seed: int = 0
    recompute: bool = False
    memory_budget_gb: float | None = None
    compile: bool = False
    precision: str = "float32"
    workers: int = 2
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    restart: bool = False
    overwrite: bool = False
    name: str | None = None
    dataset_name: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for field in ("data", "output_dir", "checkpoint", "work_dir", "data_root", "labels", "val"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, field, Path(value))
        # 0 and 0.0 are one setting: the run id hashes the recipe's JSON, where they differ.
        for field in ("lr", "weight_decay", "warmup_epochs", "label_smoothing", "memory_budget_gb"):
            value = getattr(self, field)
            if value is not None:
                object.__setattr__(self, field, float(value))
        if self.precision not in TRAINING_PRECISIONS:
            raise ValueError(f"precision must be one of {TRAINING_PRECISIONS}, got {self.precision!r}")
        from .recipe import PARAM_GROUP_MODES

        if self.param_groups not in PARAM_GROUP_MODES:
            raise ValueError(f"param_groups must be one of {PARAM_GROUP_MODES}, got {self.param_groups!r}")

    @property
    def resolved_work_dir(self) -> Path:
        """``work_dir``, or ``OUTPUT_DIR.train`` beside the export."""
        return self.work_dir or self.output_dir.with_name(self.output_dir.name + ".train")

    @property
    def model_name(self) -> str:
        """The export's name: ``name`` or the output folder's, made a safe identifier."""
        name = self.name or self.output_dir.resolve().name
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "finetuned"


@dataclasses.dataclass(frozen=True)
class FinetuneResult:
    """What a run did. ``up_to_date``: the export already held this run, nothing was trained.
    ``skipped_videos``: training videos that could not be decoded (trained on the others)."""

    output_dir: Path
    up_to_date: bool
    resumed_from_iteration: int | None
    epochs: int
    iterations: int
    optimizer_steps: int
    history: list[dict[str, Any]]
    skipped_videos: list[Any]
    classes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (``--json``)."""
        d = dataclasses.asdict(self)
        d["output_dir"] = str(self.output_dir)
        return d


class FinetuneInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); running the same configuration again resumes from ``checkpoint``
    (``None``: no checkpoint yet, it starts over). Nothing is exported."""

    def __init__(self, checkpoint: Path | None) -> None:
        super().__init__(checkpoint)
        self.checkpoint = checkpoint


def finetune(config: FinetuneConfig | None = None, /, **settings: Any) -> FinetuneResult:
    """Fine-tune, checkpoint, resume and export, as ``python -m tf_videoswin.finetune`` does.

    Pass a :class:`FinetuneConfig`, or its fields as keyword arguments. Checkpoints go to the work dir
    after every epoch (and every ``checkpoint_every`` iterations); calling again with the same settings
    resumes from the newest. At the end the export is written to ``output_dir`` atomically and verified.

    Returns:
        The :class:`FinetuneResult` (also when the export was already up to date).
    Raises:
        FinetuneInterrupted: Ctrl-C during training; call again to resume.
        DatasetError, TrainingError, FileExistsError, OutputBusyError: bad input, settings that differ
            from the work dir's run, a step that does not fit in memory, an output of another run.
    Example:
        >>> finetune(data="videos/", variant="swin_tiny_patch244_window877_kinetics400_1k",
        ...          epochs=10, output_dir="exports/mine")  # doctest: +SKIP
    """
    if config is None:
        config = FinetuneConfig(**settings)
    elif settings:
        config = dataclasses.replace(config, **settings)
    from ..output_lock import OutputLock, lock_file_for, recover_target
    from .checkpoint import remove_stale_temporaries

    work_dir = config.resolved_work_dir
    # One run per work dir (the lock sits next to it: restart deletes the folder itself).
    with OutputLock(work_dir, lock_file_for(work_dir, inside=False)):
        remove_stale_temporaries(work_dir)
        recover_target(config.output_dir)  # also when the export turns out up to date
        return _run(config)


def make_recipe(config: FinetuneConfig):
    """The variant's :class:`~.recipe.Recipe` with the configuration's overrides."""
    from .recipe import recipe_for

    recipe = recipe_for(config.variant)
    changes = _given(config, ("lr", "weight_decay", "update_interval", "warmup_epochs", "label_smoothing"))
    pipe = _given(config, ("clip_len", "frame_interval", "crop_size", "short_side"))
    if config.crop_size is not None and config.short_side is None:
        pipe["short_side"] = round(config.crop_size * 256 / 224)
    return recipe.replace(pipeline=recipe.pipeline.replace(**pipe), **changes)


def _given(config: FinetuneConfig, names: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``names`` that ``config`` sets (not None): the overrides of the official recipe."""
    return {name: getattr(config, name) for name in names if getattr(config, name) is not None}


def fit_memory(config: FinetuneConfig, arch, recipe, options):
    """``(recipe, options)`` whose training step fits the memory budget (see
    :func:`tf_videoswin.training.memory.plan_memory`); each change is logged as a warning.

    Raises:
        TrainingError: nothing fits; before any model is built or any video decoded.
    """
    from .memory import GB, plan_memory

    plan = plan_memory(
        arch,
        options.batch_size,
        recipe.update_interval,
        recipe.pipeline.clip_len,
        recipe.pipeline.crop_size,
        config.precision,
        options.recompute,
        budget_bytes=None if config.memory_budget_gb is None else config.memory_budget_gb * GB,
    )
    for change in plan.changes:
        logger.warning(change)
    recipe = recipe.replace(update_interval=plan.update_interval)
    return recipe, dataclasses.replace(options, batch_size=plan.batch_size, recompute=plan.recompute)


def _run(config: FinetuneConfig) -> FinetuneResult:
    from ..datasets import load_labelled, read_class_names
    from ..errors import DatasetError, TrainingError
    from ..variants import get_variant
    from ..video.train_pipeline import RANDAUGMENT_SUPPORTED
    from .checkpoint import checkpoint_dirs, read_run, run_differences, write_run
    from .export import export_finetuned
    from .loop import RunOptions, Trainer
    from .model import build_finetune_model, rebuild_model

    names = read_class_names(config.labels) if config.labels else None
    data = load_labelled(config.data, config.data_root, names, config.multi_label)
    if config.multi_label and config.data.is_dir():
        raise DatasetError("--multi-label needs an annotation list ('path l1 l2 ...'), not class folders")
    val = None
    if config.val is not None:
        val = load_labelled(
            config.val,
            config.data_root,
            None if config.val.is_dir() else data.class_names,
            config.multi_label,
        )
        if val.class_names != data.class_names:
            raise DatasetError(
                f"{config.val}: classes {list(val.class_names)} differ from {list(data.class_names)}"
            )
    recipe = make_recipe(config)
    if recipe.randaugment and not RANDAUGMENT_SUPPORTED:
        logger.warning(
            "the %s recipe uses imgaug RandAugment(n=%d, m=%d), which is not applied here",
            config.variant,
            *recipe.randaugment,
        )
    options = RunOptions(
        epochs=config.epochs,
        batch_size=config.batch_size or recipe.batch_size,
        seed=config.seed,
        multi_label=config.multi_label,
        param_groups=config.param_groups,
        recompute=config.recompute,
        compile=config.compile,
        workers=config.workers,
        checkpoint_every=max(0, config.checkpoint_every),
        keep_checkpoints=config.keep_checkpoints,
        val_every=config.val_every,
        progress=config.progress,
    )
    arch = get_variant(config.variant).arch.replace(num_classes=data.num_classes)
    recipe, options = fit_memory(config, arch, recipe, options)
    run = {
        "variant": config.variant,
        "checkpoint": str(config.checkpoint) if config.checkpoint else None,
        "architecture": arch.to_dict(),
        "class_names": list(data.class_names),
        "data": data.fingerprint(),
        "recipe": recipe.to_dict(),
        "batch_size": options.batch_size,
        "seed": options.seed,
        "multi_label": options.multi_label,
        "param_groups": options.param_groups,
        "precision": config.precision,
    }
    run_id = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()
    run["epochs"] = options.epochs
    work_dir = config.resolved_work_dir
    if config.restart and work_dir.exists():
        shutil.rmtree(work_dir)
    saved = read_run(work_dir)
    if saved is not None:
        diffs = run_differences(saved, run, ignore=("epochs", "base"))
        if diffs:
            raise TrainingError(
                f"{work_dir} holds a run with other settings ({', '.join(diffs)}); "
                "use another --work-dir / --output-dir, or --restart to discard it"
            )
        if saved.get("epochs") != run["epochs"]:
            logger.warning(
                "epochs changed from %s to %s: the cosine schedule changes",
                saved.get("epochs"),
                run["epochs"],
            )
    existing = _existing_export(config.output_dir)
    if config.output_dir.exists() and not config.overwrite:
        if existing is None:
            raise FileExistsError(
                f"{config.output_dir} exists and is not an export; pass --overwrite to replace it"
            )
        if existing.source.get("run_id") != run_id:
            raise FileExistsError(
                f"{config.output_dir} already holds an export of another run; pass --overwrite"
            )
    if saved is None and checkpoint_dirs(work_dir):
        raise TrainingError(
            f"{work_dir} holds checkpoints of an unknown run; use another --work-dir or --restart"
        )

    import keras

    # Python, NumPy and TensorFlow seeds: the new head's initial weights and the dropout / stochastic
    # depth draws of a fresh run (the data order and augmentations are seeded on their own).
    keras.utils.set_random_seed(options.seed)
    if saved is not None and checkpoint_dirs(work_dir):
        # weights come from the checkpoint
        model = rebuild_model(run["architecture"], config.model_name, config.precision)
        base = saved.get("base", {})
    else:
        model, base = build_finetune_model(
            config.variant,
            data.num_classes,
            config.checkpoint,
            trust_checkpoint=config.trust_checkpoint,
            precision=config.precision,
        )
    write_run(work_dir, {**run, "base": base})
    trainer = Trainer(model, data, recipe, options, work_dir, val)
    trainer.restore()
    if trainer.state.epoch > options.epochs:
        raise TrainingError(
            f"{work_dir} has already trained {trainer.state.epoch} epochs, "
            f"more than --epochs {options.epochs}"
        )
    done_before = trainer.state.epoch >= options.epochs
    same = existing is not None and existing.source.get("run_id") == run_id
    if done_before and same and existing.source.get("epochs") == options.epochs:
        return _result(config, trainer, existing, up_to_date=True)
    try:
        trainer.run()
    except KeyboardInterrupt:
        last = checkpoint_dirs(work_dir)
        raise FinetuneInterrupted(last[-1] if last else None) from None
    state = trainer.state
    source = {
        **base,
        "run_id": run_id,
        "epochs": options.epochs,
        "train_videos": len(data),
        "batch_size": options.batch_size,
        "seed": options.seed,
        "multi_label": options.multi_label,
        "param_groups": options.param_groups,
        "history": state.history,
        "skipped_videos": state.skipped,
    }
    meta = export_finetuned(
        model,
        config.output_dir,
        name=config.model_name,
        labels=data.class_names,
        dataset=config.dataset_name or (config.data.stem if config.data.is_file() else config.data.name),
        base_variant=config.variant,
        recipe=recipe,
        source=source,
        overwrite=True,  # checked above: absent, ours, or overwrite
    )
    return _result(config, trainer, meta, up_to_date=False)


def _existing_export(path: Path):
    from ..errors import ExportFormatError
    from ..export.metadata import ExportMetadata

    if not path.exists():
        return None
    try:
        return ExportMetadata.read(path)
    except ExportFormatError:
        return None


def _result(config: FinetuneConfig, trainer, meta, up_to_date: bool) -> FinetuneResult:
    state = trainer.state
    return FinetuneResult(
        output_dir=config.output_dir,
        up_to_date=up_to_date,
        resumed_from_iteration=trainer.resumed_from,
        epochs=state.epoch,
        iterations=state.iteration,
        optimizer_steps=trainer.optimizer.steps,
        history=state.history,
        skipped_videos=state.skipped,
        classes=list(meta.labels),
    )
