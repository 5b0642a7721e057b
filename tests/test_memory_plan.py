"""Fine-tuning fits the machine: the step memory estimate, and the plan that splits the batch into
accumulation steps or turns on recompute where the asked settings would not fit (issue 40, item 9).

Budgets here are small numbers given to the plan; no full-size step is run."""

from __future__ import annotations

import pytest

from tf_videoswin.cli import finetune
from tf_videoswin.errors import TrainingError
from tf_videoswin.training.finetune import fit_memory, make_recipe
from tf_videoswin.training.memory import GB, parameter_count, plan_memory, step_memory_bytes
from tf_videoswin.variants import get_variant

from .videos import write_video

TINY = "swin_tiny_patch244_window877_kinetics400_1k"
ARCH = get_variant(TINY).arch

#: Peak RSS that benchmarks/training.py measured for Swin-T steps at 32x224x224 (README, Speed):
#: (batch, precision, recompute) -> GB. Batch 2 without recompute passed 20 GB and was stopped.
MEASURED = {
    (1, "float32", False): 11.9,
    (1, "bfloat16", False): 10.3,
    (1, "float32", True): 4.46,
    (1, "bfloat16", True): 4.14,
    (2, "float32", True): 6.91,
    (2, "bfloat16", True): 6.10,
}


def test_parameter_count_is_swin_t_and_swin_b():
    assert parameter_count(ARCH) == pytest.approx(28.2e6, rel=0.01)
    base = get_variant("swin_base_patch244_window877_kinetics400_1k").arch
    assert parameter_count(base) == pytest.approx(88.1e6, rel=0.01)


@pytest.mark.parametrize(("key", "gb"), MEASURED.items(), ids=[str(k) for k in MEASURED])
def test_the_estimate_matches_the_measured_steps(key, gb):
    batch, precision, recompute = key
    assert step_memory_bytes(ARCH, batch, 32, 224, precision, recompute) / GB == pytest.approx(gb, rel=0.1)
    assert step_memory_bytes(ARCH, 2, 32, 224, "float32", False) > 20 * GB  # what was stopped


def test_settings_that_fit_are_kept():
    plan = plan_memory(ARCH, 2, 4, 32, 224, budget_bytes=100 * GB)
    assert (plan.batch_size, plan.update_interval, plan.recompute, plan.changes) == (2, 4, False, ())


def test_a_smaller_budget_splits_the_batch_into_accumulation_steps():
    plan = plan_memory(ARCH, 2, 4, 32, 224, budget_bytes=16 * GB)
    assert (plan.batch_size, plan.update_interval, plan.recompute) == (1, 8, False)
    assert plan.estimate_bytes <= 16 * GB and "the same 8 videos per update" in plan.changes[0]


def test_a_still_smaller_budget_turns_on_recompute():
    plan = plan_memory(ARCH, 2, 4, 32, 224, budget_bytes=8 * GB)
    assert (plan.batch_size, plan.update_interval, plan.recompute) == (2, 4, True)
    assert "--recompute turned on" in plan.changes[0]
    plan = plan_memory(ARCH, 4, 2, 32, 224, budget_bytes=5 * GB)  # recompute and a smaller micro-batch
    assert (plan.batch_size, plan.update_interval, plan.recompute) == (1, 8, True)
    assert plan.batch_size * plan.update_interval == 8


def test_nothing_fits_is_an_error_before_training():
    with pytest.raises(TrainingError, match=r"needs about 4\.3 GB even with one clip .* than the 3\.0 GB"):
        plan_memory(ARCH, 2, 4, 32, 224, budget_bytes=3 * GB)


def _args(data, out, *extra):
    return [str(data), "--variant", TINY, "--epochs", "1", "--output-dir", str(out), *extra]


def test_the_default_recipe_is_fitted_to_the_budget_and_says_so(tmp_path, caplog):
    args = finetune.build_parser().parse_args(_args(tmp_path, tmp_path / "out", "--memory-budget", "16"))
    config = finetune.config_from_args(args)
    recipe = make_recipe(config)
    from tf_videoswin.training.loop import RunOptions

    options = RunOptions(epochs=1, batch_size=recipe.batch_size)
    assert (options.batch_size, recipe.update_interval) == (2, 4)  # upstream: 2 clips x 4 iterations
    with caplog.at_level("WARNING"):
        fitted, opts = fit_memory(config, ARCH, recipe, options)
    assert (opts.batch_size, fitted.update_interval, opts.recompute) == (1, 8, False)
    assert "8 iterations per optimizer step" in caplog.text


def test_finetune_exits_2_before_training_when_nothing_fits(tmp_path, capsys):
    data = tmp_path / "data"
    for name in ("a", "b"):
        (data / name).mkdir(parents=True)
        write_video(data / name / "v.mp4", frames=8, height=32, width=32)
    out = tmp_path / "out"
    assert finetune.main(_args(data, out, "--memory-budget", "1")) == 2
    assert "even with one clip per iteration and --recompute" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.train").exists()
