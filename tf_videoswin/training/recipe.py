"""The upstream training recipe of each variant, from its official config.

Every value comes from SwinTransformer/Video-Swin-Transformer (commit db018fb):
``configs/recognition/swin/<variant>.py`` (optimizer, lr_config, total_epochs, optimizer_config,
data.videos_per_gpu, train_pipeline, model.train_cfg), run by mmaction 0.x and mmcv 1.3:

- ``optimizer = AdamW(lr, betas=(0.9, 0.999), weight_decay)`` with
  ``paramwise_cfg.custom_keys = {absolute_pos_embed: decay_mult 0, relative_position_bias_table:
  decay_mult 0, norm: decay_mult 0, backbone: lr_mult 0.1}`` (see :mod:`.param_groups` for how mmcv
  applies them: only the longest matching key counts);
- ``lr_config = CosineAnnealing(min_lr=0)`` by epoch, ``warmup='linear'``, ``warmup_by_epoch=True``,
  ``warmup_iters=2.5`` epochs, mmcv's default ``warmup_ratio=0.1`` (see :mod:`.schedule`);
- ``optimizer_config = DistOptimizerHook(update_interval=...)``: gradients of ``update_interval``
  iterations are accumulated (each loss divided by it) before one optimizer step, and mmaction's
  ``train_model`` loads ``videos_per_gpu // update_interval`` videos per iteration;
- the upstream runs used 8 GPUs (README), so one optimizer step saw ``8 * videos_per_gpu = 64`` videos.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..variants import get_variant
from ..video.train_pipeline import TrainPipeline

#: ``paramwise_cfg.custom_keys`` of every official Video Swin config: key -> (lr_mult, decay_mult).
CUSTOM_KEYS: dict[str, tuple[float, float]] = {
    "absolute_pos_embed": (1.0, 0.0),
    "relative_position_bias_table": (1.0, 0.0),
    "norm": (1.0, 0.0),
    "backbone": (0.1, 1.0),
}
#: How ``custom_keys`` apply (see :mod:`.param_groups`): as mmcv does (first, longest match) or all.
PARAM_GROUP_MODES = ("mmcv", "all-keys")
#: GPUs of the upstream runs (README: "train a Swin-T model for Kinetics-400 dataset with 8 gpus").
UPSTREAM_GPUS = 8
CONFIG_URL = (
    "https://github.com/SwinTransformer/Video-Swin-Transformer/blob/db018fb/configs/recognition/swin/"
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Optimizer, schedule, batching, loss and training pipeline of one official config."""

    lr: float
    weight_decay: float
    epochs: int
    update_interval: int
    videos_per_gpu: int = 8
    betas: tuple[float, float] = (0.9, 0.999)
    epsilon: float = 1e-8  # torch.optim.AdamW's default
    warmup_epochs: float = 2.5
    warmup_ratio: float = 0.1
    min_lr: float = 0.0
    label_smoothing: float = 0.0
    custom_keys: tuple[tuple[str, float, float], ...] = tuple((k, *v) for k, v in CUSTOM_KEYS.items())
    pipeline: TrainPipeline = dataclasses.field(default_factory=TrainPipeline)
    randaugment: tuple[int, int] | None = None  # imgaug RandAugment(n, m) upstream; not applied here
    config: str = ""

    @property
    def batch_size(self) -> int:
        """Videos per iteration (per GPU upstream): ``videos_per_gpu // update_interval``."""
        return max(1, self.videos_per_gpu // self.update_interval)

    def replace(self, **changes: Any) -> Recipe:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["pipeline"] = self.pipeline.to_dict()
        data["custom_keys"] = [list(k) for k in self.custom_keys]
        data["betas"] = list(self.betas)
        data["randaugment"] = list(self.randaugment) if self.randaugment else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        data = dict(data)
        data["pipeline"] = TrainPipeline.from_dict(data["pipeline"])
        data["custom_keys"] = tuple(tuple(k) for k in data["custom_keys"])
        data["betas"] = tuple(data["betas"])
        data["randaugment"] = tuple(data["randaugment"]) if data.get("randaugment") else None
        return cls(**data)


_KINETICS = TrainPipeline()
_SSV2 = TrainPipeline(frame_uniform=True, flip_ratio=0.0, random_erasing=0.25)

RECIPES: dict[str, Recipe] = {
    "swin_tiny_patch244_window877_kinetics400_1k": Recipe(
        lr=1e-3, weight_decay=0.02, epochs=30, update_interval=4, pipeline=_KINETICS
    ),
    "swin_small_patch244_window877_kinetics400_1k": Recipe(
        lr=1e-3, weight_decay=0.02, epochs=30, update_interval=8, pipeline=_KINETICS
    ),
    "swin_base_patch244_window877_kinetics400_1k": Recipe(
        lr=1e-3, weight_decay=0.05, epochs=30, update_interval=8, pipeline=_KINETICS
    ),
    "swin_base_patch244_window877_kinetics400_22k": Recipe(
        lr=3e-4, weight_decay=0.05, epochs=30, update_interval=8, pipeline=_KINETICS
    ),
    # _base_ = swin_base_patch244_window877_kinetics400_22k.py (only data and head size change).
    "swin_base_patch244_window877_kinetics600_22k": Recipe(
        lr=3e-4, weight_decay=0.05, epochs=30, update_interval=8, pipeline=_KINETICS
    ),
    # train_cfg.blending = LabelSmoothing(smoothing=0.1); Imgaug RandAugment(n=4, m=7); RandomErasing 0.25.
    "swin_base_patch244_window1677_sthv2": Recipe(
        lr=3e-4,
        weight_decay=0.05,
        epochs=60,
        update_interval=8,
        label_smoothing=0.1,
        pipeline=_SSV2,
        randaugment=(4, 7),
    ),
}


def recipe_for(variant: str) -> Recipe:
    """The official recipe of a registry variant (raises :class:`UnknownVariantError`)."""
    name = get_variant(variant).name
    return RECIPES[name].replace(config=f"{CONFIG_URL}{name}.py")
