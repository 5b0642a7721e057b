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
import json
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


def config_from_args(args: argparse.Namespace):
    """The :class:`~tf_videoswin.training.finetune.FinetuneConfig` the flags describe."""
    from ..training.finetune import FinetuneConfig

    return FinetuneConfig(
        data=args.data,
        variant=args.variant,
        epochs=args.epochs,
        output_dir=args.output_dir,
        checkpoint=args.checkpoint,
        trust_checkpoint=args.trust_checkpoint,
        work_dir=args.work_dir,
        data_root=args.data_root,
        labels=args.labels,
        multi_label=args.multi_label,
        val=args.val,
        val_every=args.val_every,
        lr=args.lr,
        weight_decay=args.weight_decay,
        batch_size=args.batch_size,
        update_interval=args.update_interval,
        warmup_epochs=args.warmup_epochs,
        label_smoothing=args.label_smoothing,
        param_groups=args.param_groups,
        clip_len=args.clip_len,
        frame_interval=args.frame_interval,
        crop_size=args.crop_size,
        short_side=args.short_side,
        seed=args.seed,
        recompute=args.recompute,
        memory_budget_gb=args.memory_budget,
        compile=args.compile,
        precision=args.precision,
        workers=args.workers,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        restart=args.restart,
        overwrite=args.overwrite,
        name=args.name,
        dataset_name=args.dataset_name,
        progress=not args.no_progress,
    )


def main(argv: list[str] | None = None) -> int:
    """Fine-tune, checkpoint, resume, export (:func:`tf_videoswin.training.finetune.finetune`).

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
    from ..training.finetune import FinetuneInterrupted, finetune

    try:
        result = finetune(config_from_args(args))
    except FinetuneInterrupted as e:
        where = f"{e.checkpoint}" if e.checkpoint else "the start (no checkpoint yet)"
        error(f"interrupted; run the same command again to resume from {where}")
        return EXIT_INTERRUPTED
    except (VideoSwinError, FileExistsError, OSError, ValueError) as e:
        error(e)
        return EXIT_INPUT
    return _report(args, result)


def _report(args: argparse.Namespace, result) -> int:
    """Print the run's summary; the exit code: 3 when training videos could not be decoded (trained
    on the others, export written), else 0."""
    code = EXIT_PARTIAL if result.skipped_videos else EXIT_OK
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return code
    if result.up_to_date:
        print(f"{args.output_dir} is up to date ({result.epochs} epochs); nothing to do")
        return code
    for h in result.history:
        parts = [f"epoch {h['epoch']}:"]
        if h.get("train_loss") is not None:
            parts.append(f"train loss {h['train_loss']:.4f}")
        if h.get("val_top1") is not None:
            parts.append(f"val loss {h['val_loss']:.4f}, val top-1 {h['val_top1']:.3f}")
        print(" ".join(parts) if len(parts) > 1 else f"{parts[0]} -")
    if result.skipped_videos:
        print(f"{len(result.skipped_videos)} training videos could not be decoded (listed in the metadata)")
    print(f"export -> {args.output_dir}")
    return code


if __name__ == "__main__":
    sys.exit(main())
