"""GroupedAdamW (one traced update for every group) against torch.optim.AdamW with the same parameter
groups: decoupled weight decay, per-group learning-rate and decay multipliers, gradient accumulation."""

import numpy as np
import pytest
import tensorflow as tf

from tf_videoswin.training.optimizer import GroupedAdamW
from tf_videoswin.training.param_groups import ParamGroup

from .conftest import require

torch = require("torch", "convert")

SHAPES = [(4, 3), (3,), (2, 2, 2)]
MULTS = [(1.0, 1.0), (0.5, 0.0)]  # (lr_mult, decay_mult): a decayed group and an undecayed one
WEIGHT_DECAY, BASE_LRS = 0.05, [1e-2, 3e-3, 5e-3]


def _arrays(rng):
    """One float32 array per variable shape: starting weights or one iteration's gradients."""
    return [rng.standard_normal(s).astype(np.float32) for s in SHAPES]


def _torch_run(start, micro_grads, update_interval):
    params = [torch.nn.Parameter(torch.from_numpy(w.copy())) for w in start]
    groups = [
        {"params": params[:2], "lr_mult": MULTS[0][0], "weight_decay": WEIGHT_DECAY * MULTS[0][1]},
        {"params": params[2:], "lr_mult": MULTS[1][0], "weight_decay": WEIGHT_DECAY * MULTS[1][1]},
    ]
    opt = torch.optim.AdamW(groups, lr=0.0, betas=(0.9, 0.999), eps=1e-8)
    for step, lr in enumerate(BASE_LRS):
        for grads in micro_grads[step * update_interval : (step + 1) * update_interval]:
            for p, g in zip(params, grads, strict=True):
                g = torch.from_numpy(g) / update_interval
                p.grad = g if p.grad is None else p.grad + g
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_mult"]
        opt.step()
        opt.zero_grad()
    return [p.detach().numpy() for p in params]


@pytest.mark.parametrize("update_interval", [1, 2])
def test_grouped_adamw_follows_torch_adamw(update_interval):
    rng = np.random.default_rng(0)
    start = _arrays(rng)
    micro_grads = [_arrays(rng) for _ in range(len(BASE_LRS) * update_interval)]
    variables = [tf.Variable(w) for w in start]
    groups = [ParamGroup(*MULTS[0], variables=variables[:2]), ParamGroup(*MULTS[1], variables=variables[2:])]
    opt = GroupedAdamW(groups, WEIGHT_DECAY)
    for step, lr in enumerate(BASE_LRS):
        for grads in micro_grads[step * update_interval : (step + 1) * update_interval]:
            opt.accumulate([tf.constant(g / update_interval) for g in grads])
        opt.step(lr)
        assert all(not np.any(acc.numpy()) for acc in opt.accumulators)  # zeroed after each update
    expected = _torch_run(start, micro_grads, update_interval)
    for v, w, s in zip(variables, expected, start, strict=True):
        # Keras adds epsilon before v's bias correction, PyTorch after: equal up to epsilon's size.
        np.testing.assert_allclose(v.numpy(), w, rtol=0, atol=1e-6)
        assert np.abs(v.numpy() - s).max() > 1e-3  # every variable moved
    assert opt.steps == len(BASE_LRS)


def test_missing_gradients_leave_their_accumulators_alone():
    variables = [tf.Variable(np.ones(s, np.float32)) for s in SHAPES]
    opt = GroupedAdamW([ParamGroup(1.0, 1.0, variables=variables)], WEIGHT_DECAY)
    opt.accumulate([tf.ones(SHAPES[0]), None, tf.ones(SHAPES[2])])
    opt.accumulate([tf.ones(SHAPES[0]), None, None])
    np.testing.assert_array_equal(opt.accumulators[0].numpy(), np.full(SHAPES[0], 2.0))
    assert not np.any(opt.accumulators[1].numpy())
    np.testing.assert_array_equal(opt.accumulators[2].numpy(), np.ones(SHAPES[2]))
