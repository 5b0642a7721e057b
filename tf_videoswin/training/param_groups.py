"""Parameter groups of the upstream optimizer: per-parameter learning-rate and weight-decay multipliers.

mmcv 1.3's ``DefaultOptimizerConstructor`` applies ``paramwise_cfg.custom_keys`` by substring match
on the full parameter name, trying keys from the longest to the shortest (ties alphabetically) and
using **only the first key that matches**. With the Video Swin keys (``relative_position_bias_table``,
``absolute_pos_embed``, ``backbone``, ``norm``) that gives, for the names of the official module tree:

- ``backbone.*.relative_position_bias_table``: lr x1, no weight decay (the longer key wins over
  ``backbone``, so these tables are *not* slowed down by ``lr_mult=0.1``);
- every other backbone parameter, norms and biases included: lr x0.1, full weight decay (``backbone``
  is longer than ``norm``, so ``norm: decay_mult=0`` never applies inside the backbone);
- the head (``cls_head.fc_cls``): lr x1, full weight decay.

``mode='all-keys'`` instead multiplies the factors of every matching key (norms and tables without
decay, everything in the backbone at x0.1): what the config reads like, not what upstream ran.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import keras

from .recipe import PARAM_GROUP_MODES as MODES


@dataclasses.dataclass
class ParamGroup:
    """Variables that share a learning-rate and a weight-decay multiplier."""

    lr_mult: float
    decay_mult: float
    names: list[str] = dataclasses.field(default_factory=list)
    variables: list = dataclasses.field(default_factory=list)

    @property
    def key(self) -> str:
        return f"lr_x{self.lr_mult:g}_decay_x{self.decay_mult:g}"


def multipliers(
    name: str, custom_keys: Sequence[tuple[str, float, float]], mode: str = "mmcv"
) -> tuple[float, float]:
    """``(lr_mult, decay_mult)`` of the parameter ``name`` (see the module docstring for ``mode``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    ordered = sorted(sorted(custom_keys, key=lambda k: k[0]), key=lambda k: len(k[0]), reverse=True)
    lr_mult, decay_mult = 1.0, 1.0
    for key, key_lr, key_decay in ordered:
        if key in name:
            if mode == "mmcv":
                return key_lr, key_decay
            lr_mult, decay_mult = lr_mult * key_lr, decay_mult * key_decay
    return lr_mult, decay_mult


def named_trainable_variables(layer: keras.layers.Layer, prefix: str = "") -> Iterator[tuple[str, object]]:
    """``(module.path.variable, variable)`` for the trainable variables, named by layer names.

    The layers are named after the official modules (``backbone``, ``layers.0``, ``blocks.1``,
    ``attn``, ...), so the names match the official parameter names up to the variable's own name
    (``kernel``/``gamma`` for ``weight``): enough for the substring keys of ``paramwise_cfg``.
    """
    children = list(layer._flatten_layers(include_self=False, recursive=False))
    owned = {id(v) for child in children for v in child.weights}
    for v in layer.trainable_weights:
        if id(v) not in owned:
            yield f"{prefix}{v.name}", v
    for child in children:
        yield from named_trainable_variables(child, f"{prefix}{child.name}.")


def group_variables(
    model: keras.layers.Layer, custom_keys: Sequence[tuple[str, float, float]], mode: str = "mmcv"
) -> list[ParamGroup]:
    """The model's trainable variables split into groups of equal multipliers (first-seen order)."""
    groups: dict[tuple[float, float], ParamGroup] = {}
    for name, variable in named_trainable_variables(model):
        mults = multipliers(name, custom_keys, mode)
        group = groups.setdefault(mults, ParamGroup(*mults))
        group.names.append(name)
        group.variables.append(variable)
    return list(groups.values())
