"""Fine-tune a Video Swin variant on your classes with its upstream training recipe; write an export.

    python -m tf_videoswin.finetune DATA --variant swin_tiny_patch244_window877_kinetics400_1k \\
        [--checkpoint swin_tiny.pth] --epochs 10 --output-dir exports/my_classes

DATA is a folder with one sub-folder of videos per class (sorted names = label indices), or an
mmaction annotation list (``relative/path.mp4 label`` per line; ``--labels`` names the classes,
``--multi-label`` reads ``path l1 l2 ...`` and trains with a sigmoid loss).

The recipe is the variant's official config: AdamW (decay 0.02 Swin-T/S, 0.05 Swin-B) with mmcv's
parameter groups (backbone lr x0.1, norms included; relative-position tables lr x1 without decay),
2.5 warmup epochs then cosine by epoch, gradient accumulation over the config's update_interval,
and the training pipeline (Kinetics: random clip offset, short side 256, random resized crop, flip;
SSv2: frame-uniform, no flip, random erasing 0.25, label smoothing 0.1; imgaug's RandAugment is NOT
applied). Upstream used 8 GPUs: an optimizer step saw 64 videos; here it sees --batch-size x
--update-interval (scale --lr to taste).

Checkpoints (model, optimizer, accumulators, position) go to --work-dir (default OUTPUT_DIR.train/)
after every epoch; running the same command again resumes from the newest one. At the end the
export (classifier/, feature_extractor/, metadata, model card) is written to OUTPUT_DIR atomically and
verified by reloading; predict, evaluate and hub.KerasLayer use it like a converted export.
Exit codes (docs/exit-codes.md): 0 done, 3 done but some training videos could not be decoded (trained
on the others), 2 bad input or a step that does not fit in memory, 130 interrupted (resume by running
the command again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
from pathlib import Path

from ..config import TRAINING_PRECISIONS
from .common import (
    EXIT_CODES_HELP,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    add_verbose_argument,
    configure_logging,
    error,
    fraction,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
)

logger = logging.getLogger("tf_videoswin.finetune")


def build_parser() -> argparse.ArgumentParser:
    from ..training.recipe import PARAM_GROUP_MODES
    from ..variants import VARIANTS

    p = argparse.ArgumentParser(
        prog="python -m tf_videoswin.finetune",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXIT_CODES_HELP,
    )
    p.add_argument("data", type=Path, help="a folder of class folders, or an annotation list")
    p.add_argument(
        "--variant",
        required=True,
        choices=list(VARIANTS),
        metavar="VARIANT",
        help=f"architecture and recipe: {', '.join(VARIANTS)}",
    )
    p.add_argument(
        "--checkpoint",
        type=Path,
        help="upstream .pth of the variant (needs the convert extra) or an export folder of it; "
        "default: download the upstream checkpoint",
    )
    p.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of the .pth")
    p.add_argument("--epochs", required=True, type=positive_int, help="epochs (upstream: 30, SSv2 60)")
    p.add_argument("--output-dir", required=True, type=Path, help="the export folder to write")
    p.add_argument("--work-dir", type=Path, help="checkpoints and log (default: OUTPUT_DIR.train)")
    p.add_argument(
        "--data-root", type=Path, help="folder the list's paths are relative to (default: its folder)"
    )
    p.add_argument("--labels", type=Path, help="class names, one per line (annotation lists)")
    p.add_argument("--multi-label", action="store_true", help="lists of 'path l1 l2 ...'; sigmoid BCE loss")
    p.add_argument("--val", type=Path, help="validation videos (same formats): top-1 after each epoch")
    p.add_argument("--val-every", type=positive_int, default=1, help="validate every N epochs (and the last)")
    g = p.add_argument_group("recipe overrides (default: the variant's official config)")
    g.add_argument("--lr", type=positive_float, help="base learning rate (upstream: for 64 videos per step)")
    g.add_argument("--weight-decay", type=non_negative_float)
    g.add_argument(
        "--batch-size", type=positive_int, help="videos per iteration (upstream: 8 // update_interval)"
    )
    g.add_argument("--update-interval", type=positive_int, help="iterations per optimizer step")
    g.add_argument("--warmup-epochs", type=non_negative_float)
    g.add_argument("--label-smoothing", type=fraction)
    g.add_argument(
        "--param-groups",
        choices=PARAM_GROUP_MODES,
        default="mmcv",
        help="mmcv: the groups upstream ran (longest matching key only); all-keys: every key applies",
    )
    g.add_argument("--clip-len", type=positive_int, help="frames per clip (upstream 32)")
    g.add_argument("--frame-interval", type=positive_int, help="upstream 2")
    g.add_argument("--crop-size", type=positive_int, help="upstream 224")
    g.add_argument("--short-side", type=positive_int, help="training resize (default: crop x 256/224)")
    r = p.add_argument_group("run")
    r.add_argument("--seed", type=non_negative_int, default=0, help="data order and augmentation seed")
    r.add_argument("--recompute", action="store_true", help="gradient checkpointing per Swin block (memory)")
    r.add_argument(
        "--memory-budget",
        type=positive_float,
        metavar="GB",
        help="memory a training step may use (default: 80%% of this machine's); where the settings would "
        "need more, the batch is split into accumulation steps (same videos per update) or --recompute "
        "is turned on, and the log says so",
    )
    r.add_argument("--compile", action="store_true", help="trace the training step with tf.function")
    r.add_argument(
        "--precision",
        choices=TRAINING_PRECISIONS,
        default="float32",
        help="what the matmuls compute in while training; variables and the export stay float32 "
        "(bfloat16: faster on CPUs with bf16 arithmetic, less activation memory)",
    )
    r.add_argument("--workers", type=positive_int, default=2, help="decoding threads")
    r.add_argument(
        "--checkpoint-every", type=non_negative_int, default=0, help="also checkpoint every N iterations"
    )
    r.add_argument("--keep-checkpoints", type=positive_int, default=2)
    r.add_argument("--restart", action="store_true", help="discard the work dir's checkpoints and start over")
    r.add_argument("--overwrite", action="store_true", help="replace an OUTPUT_DIR made by another run")
    r.add_argument("--name", help="the export's name (default: OUTPUT_DIR's name)")
    r.add_argument("--dataset-name", help="dataset name for the model card (default: DATA's name)")
    r.add_argument("--json", action="store_true", help="print one JSON document at the end")
    r.add_argument("--no-progress", action="store_true")
    add_verbose_argument(p)
    return p


def make_recipe(args: argparse.Namespace):
    """The variant's recipe with the command line's overrides."""
    from ..training.recipe import recipe_for

    recipe = recipe_for(args.variant)
    changes = {
        k: v
        for k, v in {
            "lr": args.lr,
            "weight_decay": args.weight_decay,
            "update_interval": args.update_interval,
            "warmup_epochs": args.warmup_epochs,
            "label_smoothing": args.label_smoothing,
        }.items()
        if v is not None
    }
    pipe = {
        k: v
        for k, v in {
            "clip_len": args.clip_len,
            "frame_interval": args.frame_interval,
            "crop_size": args.crop_size,
            "short_side": args.short_side,
        }.items()
        if v is not None
    }
    if args.crop_size is not None and args.short_side is None:
        pipe["short_side"] = round(args.crop_size * 256 / 224)
    return recipe.replace(pipeline=recipe.pipeline.replace(**pipe), **changes)


def main(argv: list[str] | None = None) -> int:
    """Fine-tune, checkpoint, resume, export.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``); see ``--help``.
    Returns:
        0 when the export is written (or already up to date), 3 when it is but some training videos
        could not be decoded, 2 on bad input, 130 when interrupted.
    Example:
        >>> main(["videos/", "--variant", "swin_tiny_patch244_window877_kinetics400_1k",
        ...       "--epochs", "10", "--output-dir", "exports/mine"])  # doctest: +SKIP
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    from ..errors import VideoSwinError
    from ..output_lock import OutputLock, lock_file_for, recover_target
    from ..training.checkpoint import remove_stale_temporaries

    work_dir = _work_dir(args)
    try:
        # One run per work dir (the lock sits next to it: --restart deletes the folder itself).
        with OutputLock(work_dir, lock_file_for(work_dir, inside=False)):
            remove_stale_temporaries(work_dir)
            recover_target(args.output_dir)  # also when the export turns out up to date
            return _run(args)
    except (VideoSwinError, FileExistsError, OSError, ValueError) as e:
        error(e)
        return EXIT_INPUT


def _run(args: argparse.Namespace) -> int:
    from ..datasets import load_labelled, read_class_names
    from ..errors import DatasetError, TrainingError
    from ..training.checkpoint import checkpoint_dirs, read_run, run_differences, write_run
    from ..training.export import export_finetuned
    from ..training.loop import RunOptions, Trainer
    from ..training.model import build_finetune_model, rebuild_model
    from ..variants import get_variant
    from ..video.train_pipeline import RANDAUGMENT_SUPPORTED

    names = read_class_names(args.labels) if args.labels else None
    data = load_labelled(args.data, args.data_root, names, args.multi_label)
    if args.multi_label and args.data.is_dir():
        raise DatasetError("--multi-label needs an annotation list ('path l1 l2 ...'), not class folders")
    val = None
    if args.val is not None:
        val = load_labelled(
            args.val, args.data_root, None if args.val.is_dir() else data.class_names, args.multi_label
        )
        if val.class_names != data.class_names:
            raise DatasetError(
                f"{args.val}: classes {list(val.class_names)} differ from {list(data.class_names)}"
            )
    recipe = make_recipe(args)
    if recipe.randaugment and not RANDAUGMENT_SUPPORTED:
        logger.warning(
            "the %s recipe uses imgaug RandAugment(n=%d, m=%d), which is not applied here",
            args.variant,
            *recipe.randaugment,
        )
    options = RunOptions(
        epochs=args.epochs,
        batch_size=args.batch_size or recipe.batch_size,
        seed=args.seed,
        multi_label=args.multi_label,
        param_groups=args.param_groups,
        recompute=args.recompute,
        compile=args.compile,
        workers=args.workers,
        checkpoint_every=max(0, args.checkpoint_every),
        keep_checkpoints=args.keep_checkpoints,
        val_every=args.val_every,
        progress=not args.no_progress,
    )
    arch = get_variant(args.variant).arch.replace(num_classes=data.num_classes)
    recipe, options = fit_memory(args, arch, recipe, options)
    run = {
        "variant": args.variant,
        "checkpoint": str(args.checkpoint) if args.checkpoint else None,
        "architecture": arch.to_dict(),
        "class_names": list(data.class_names),
        "data": data.fingerprint(),
        "recipe": recipe.to_dict(),
        "batch_size": options.batch_size,
        "seed": options.seed,
        "multi_label": options.multi_label,
        "param_groups": options.param_groups,
        "precision": args.precision,
    }
    run_id = hashlib.sha256(json.dumps(run, sort_keys=True).encode()).hexdigest()
    run["epochs"] = options.epochs
    work_dir = _work_dir(args)
    if args.restart and work_dir.exists():
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
    existing = _existing_export(args.output_dir)
    if args.output_dir.exists() and not args.overwrite:
        if existing is None:
            raise FileExistsError(
                f"{args.output_dir} exists and is not an export; pass --overwrite to replace it"
            )
        if existing.source.get("run_id") != run_id:
            raise FileExistsError(
                f"{args.output_dir} already holds an export of another run; pass --overwrite"
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
        model = rebuild_model(run["architecture"], _model_name(args), args.precision)
        base = saved.get("base", {})
    else:
        model, base = build_finetune_model(
            args.variant,
            data.num_classes,
            args.checkpoint,
            trust_checkpoint=args.trust_checkpoint,
            precision=args.precision,
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
        return _report(args, trainer, existing, up_to_date=True)
    try:
        trainer.run()
    except KeyboardInterrupt:
        last = checkpoint_dirs(work_dir)
        where = f"{last[-1]}" if last else "the start (no checkpoint yet)"
        error(f"interrupted; run the same command again to resume from {where}")
        return EXIT_INTERRUPTED
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
        args.output_dir,
        name=_model_name(args),
        labels=data.class_names,
        dataset=args.dataset_name or (args.data.stem if args.data.is_file() else args.data.name),
        base_variant=args.variant,
        recipe=recipe,
        source=source,
        overwrite=True,  # checked above: absent, ours, or --overwrite
    )
    return _report(args, trainer, meta, up_to_date=False)


def fit_memory(args: argparse.Namespace, arch, recipe, options):
    """``(recipe, options)`` whose training step fits the memory budget (see
    :func:`tf_videoswin.training.memory.plan_memory`); each change is logged as a warning.

    Raises:
        TrainingError: nothing fits; before any model is built or any video decoded.
    """
    import dataclasses

    from ..training.memory import GB, plan_memory

    plan = plan_memory(
        arch,
        options.batch_size,
        recipe.update_interval,
        recipe.pipeline.clip_len,
        recipe.pipeline.crop_size,
        args.precision,
        options.recompute,
        budget_bytes=None if args.memory_budget is None else args.memory_budget * GB,
    )
    for change in plan.changes:
        logger.warning(change)
    recipe = recipe.replace(update_interval=plan.update_interval)
    return recipe, dataclasses.replace(options, batch_size=plan.batch_size, recompute=plan.recompute)


def _work_dir(args: argparse.Namespace) -> Path:
    return args.work_dir or args.output_dir.with_name(args.output_dir.name + ".train")


def _model_name(args: argparse.Namespace) -> str:
    name = args.name or args.output_dir.resolve().name
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "finetuned"


def _existing_export(path: Path):
    from ..errors import ExportFormatError
    from ..export.metadata import ExportMetadata

    if not path.exists():
        return None
    try:
        return ExportMetadata.read(path)
    except ExportFormatError:
        return None


def _report(args: argparse.Namespace, trainer, meta, up_to_date: bool) -> int:
    """Print the run's summary; the exit code: 3 when training videos could not be decoded (trained
    on the others, export written), else 0."""
    state = trainer.state
    code = EXIT_PARTIAL if state.skipped else EXIT_OK
    summary = {
        "output_dir": str(args.output_dir),
        "up_to_date": up_to_date,
        "resumed_from_iteration": trainer.resumed_from,
        "epochs": state.epoch,
        "iterations": state.iteration,
        "optimizer_steps": trainer.optimizer.steps,
        "history": state.history,
        "skipped_videos": state.skipped,
        "classes": list(meta.labels),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return code
    if up_to_date:
        print(f"{args.output_dir} is up to date ({state.epoch} epochs); nothing to do")
        return code
    for h in state.history:
        parts = [f"epoch {h['epoch']}:"]
        if h.get("train_loss") is not None:
            parts.append(f"train loss {h['train_loss']:.4f}")
        if h.get("val_top1") is not None:
            parts.append(f"val loss {h['val_loss']:.4f}, val top-1 {h['val_top1']:.3f}")
        print(" ".join(parts) if len(parts) > 1 else f"{parts[0]} -")
    if state.skipped:
        print(f"{len(state.skipped)} training videos could not be decoded (listed in the metadata)")
    print(f"export -> {args.output_dir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
