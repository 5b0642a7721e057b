"""How much memory a fine-tuning step needs, and settings that fit the machine.

:func:`step_memory_bytes` estimates the peak memory of one training step (forward, backward, AdamW
update) from the architecture, the videos per iteration, the clip size and the precision, with and
without recomputation (``tf.recompute_grad`` per block). :func:`plan_memory` keeps the requested
settings where they fit and otherwise splits the batch into more accumulation steps (the same videos
per optimizer update, so the same optimisation: LayerNorm has no batch statistics) or turns on
recomputation, and raises :class:`~tf_videoswin.errors.TrainingError` before training where nothing
fits. Pure Python: no TensorFlow.

The estimate counts, per Swin block and token, the float32 tensors a block keeps for its backward
pass (LayerNorms, qkv, attention logits and probabilities, MLP), times one factor for what
TensorFlow keeps besides (gradients, transposes, masks), plus the variables with their gradients,
accumulators and AdamW moments and the runtime itself. The constants are calibrated on the step
memory that ``benchmarks/training.py`` measured for Swin-T at 32x224x224 (plain and recompute,
batch 1 and 2; figures in the README's Speed section) and stay within a few percent of them there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
from pathlib import Path

from ..config import VideoSwinConfig
from ..errors import TrainingError

logger = logging.getLogger(__name__)

#: Floats a block keeps per token: ~17 x C for its linear paths, 3 x heads x window for attention.
_LINEAR_PER_CHANNEL = 17
_ATTENTION_PER_HEAD_AND_KEY = 3
#: What TensorFlow keeps beyond those tensors (gradients of activations, copies, masks).
_RUNTIME_FACTOR = 2.0
#: The runtime, decoding buffers and the model's graph, and per parameter: weights, gradients,
#: accumulators and two AdamW moments, float32.
_FIXED_BYTES = 1.5e9
_BYTES_PER_PARAMETER = 20
#: Activations of a bfloat16 step relative to float32 (softmax, LayerNorm statistics and logits stay
#: float32).
_PRECISION_FACTOR = {"float32": 1.0, "bfloat16": 0.85}
#: Of the machine's memory, what a run may plan to use (the rest: the OS, decoding threads, caches).
MACHINE_SHARE = 0.8
GB = 1e9


@dataclasses.dataclass(frozen=True)
class MemoryPlan:
    """Settings of a fine-tuning run that fit ``budget_bytes``, and what changed to get there."""

    batch_size: int  # videos per iteration
    update_interval: int  # iterations per optimizer step
    recompute: bool
    estimate_bytes: float  # peak of one step with these settings
    budget_bytes: float
    changes: tuple[str, ...] = ()  # what was changed, in words (empty: the settings fit as asked)


def parameter_count(arch: VideoSwinConfig) -> int:
    """Parameters of the model (blocks, patch merging, embedding, head), close to the exact count."""
    c = arch.embed_dim
    pt, ph, pw = arch.patch_size
    count = arch.in_chans * pt * ph * pw * c + c
    wt, wh, ww = arch.window_size
    table = (2 * wt - 1) * (2 * wh - 1) * (2 * ww - 1)
    for stage, depth in enumerate(arch.depths):
        hidden = int(c * arch.mlp_ratio)
        count += depth * (4 * c * c + 2 * c * hidden + 9 * c + hidden + table * arch.num_heads[stage])
        if stage < len(arch.depths) - 1:
            count += 4 * c * 2 * c + 8 * c  # patch merging: LayerNorm(4C), Linear(4C -> 2C)
            c *= 2
    return count + 2 * c + c * arch.num_classes + arch.num_classes


def _block_floats(arch: VideoSwinConfig, frames: int, size: int) -> list[tuple[int, int]]:
    """Per block: (floats it keeps for backward, floats of its input), for one video."""
    pt, ph, pw = arch.patch_size
    t, h, w = math.ceil(frames / pt), math.ceil(size / ph), math.ceil(size / pw)
    blocks = []
    c = arch.embed_dim
    for stage, depth in enumerate(arch.depths):
        window = 1
        for dim, win in zip((t, h, w), arch.window_size, strict=True):
            window *= min(dim, win)  # a window is clipped to a smaller feature map
        tokens = t * h * w
        kept = tokens * (
            _LINEAR_PER_CHANNEL * c + _ATTENTION_PER_HEAD_AND_KEY * arch.num_heads[stage] * window
        )
        blocks += [(kept, tokens * c)] * depth
        h, w, c = math.ceil(h / 2), math.ceil(w / 2), c * 2
    return blocks


def step_memory_bytes(
    arch: VideoSwinConfig, batch_size: int, frames: int, size: int, precision: str, recompute: bool
) -> float:
    """Estimated peak memory (bytes) of one training step with ``batch_size`` clips of
    ``frames x size x size``.

    Without recompute every block's tensors are kept until the backward pass; with it, only each
    block's input, and one block's tensors at a time.
    """
    blocks = _block_floats(arch, frames, size)
    if recompute:
        floats = max(kept for kept, _ in blocks) + sum(inputs for _, inputs in blocks)
    else:
        floats = sum(kept for kept, _ in blocks)
    activations = 4 * floats * _RUNTIME_FACTOR * _PRECISION_FACTOR.get(precision, 1.0) * batch_size
    return _FIXED_BYTES + _BYTES_PER_PARAMETER * parameter_count(arch) + activations


def machine_memory_bytes() -> float | None:
    """This machine's memory as a process sees it: physical memory, or a smaller cgroup limit."""
    found = []
    with contextlib.suppress(ValueError, OSError, AttributeError):  # not POSIX
        found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # "max" or a huge number: no limit
            found.append(int(text))
    return float(min(found)) if found else None


def plan_memory(
    arch: VideoSwinConfig,
    batch_size: int,
    update_interval: int,
    frames: int,
    size: int,
    precision: str = "float32",
    recompute: bool = False,
    budget_bytes: float | None = None,
) -> MemoryPlan:
    """Settings for one training step that fit ``budget_bytes`` (default: a share of this machine's
    memory), keeping the videos per optimizer update (``batch_size x update_interval``).

    In order: the settings as asked; a smaller micro-batch (a divisor of ``batch_size``) with
    ``update_interval`` raised to match; recompute, at the largest micro-batch that fits with it.
    Without a known budget the settings are kept.

    Raises:
        TrainingError: not even one clip per iteration with recompute fits.
    """
    if budget_bytes is None:
        machine = machine_memory_bytes()
        if machine is None:
            estimate = step_memory_bytes(arch, batch_size, frames, size, precision, recompute)
            return MemoryPlan(batch_size, update_interval, recompute, estimate, math.inf)
        budget_bytes = MACHINE_SHARE * machine
    micro_batches = [m for m in range(batch_size, 0, -1) if batch_size % m == 0]
    for use_recompute in (False, True) if not recompute else (True,):
        for micro in micro_batches:
            estimate = step_memory_bytes(arch, micro, frames, size, precision, use_recompute)
            if estimate <= budget_bytes:
                return _plan(
                    batch_size, update_interval, recompute, micro, use_recompute, estimate, budget_bytes
                )
    least = step_memory_bytes(arch, 1, frames, size, precision, True)
    raise TrainingError(
        f"one training step needs about {least / GB:.1f} GB even with one clip per iteration and "
        f"--recompute, more than the {budget_bytes / GB:.1f} GB this run may use; use shorter or smaller "
        "clips (--clip-len, --crop-size), --precision bfloat16, or a machine with more memory "
        "(--memory-budget sets the budget)"
    )


def _plan(
    batch: int,
    interval: int,
    recompute: bool,
    micro: int,
    use_recompute: bool,
    estimate: float,
    budget: float,
) -> MemoryPlan:
    changes = []
    asked = f"{batch} videos per iteration{' with recompute' if recompute else ''}"
    if micro != batch:
        changes.append(
            f"{asked} would need more than the {budget / GB:.1f} GB this run may use: "
            f"{micro} per iteration and {interval * batch // micro} iterations per optimizer step instead "
            f"(the same {batch * interval} videos per update)"
        )
    if use_recompute and not recompute:
        changes.append(
            f"{asked} would need more than the {budget / GB:.1f} GB this run may use: --recompute turned on "
            "(gradients unchanged, about one more forward pass of compute)"
        )
    if changes:
        changes.append(f"estimated peak memory of a step: {estimate / GB:.1f} GB")
    return MemoryPlan(micro, interval * batch // micro, use_recompute, estimate, budget, tuple(changes))
