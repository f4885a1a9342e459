"""The torch-free formulas the app draws (presets.schedules, presets.activations) held to
what the trainer does: the lr a real run applied, and torch's activations and gradients."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from dmt_tui import rundir
from dmt_tui.presets import activations, schedules
from dmt_tui.presets.schema import ACTIVATIONS, SCHEDULES, load
from dmt_tui.trainer import cli
from dmt_tui.trainer.models import ACTIVATIONS as TORCH_ACTIVATIONS

POINTS = np.linspace(-4.0, 4.0, 321)  # includes 0, where the kinks are


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_value_and_derivative_match_torch(name: str) -> None:
    model = {"leaky_slope": 0.1, "elu_alpha": 0.7}
    module = TORCH_ACTIVATIONS[name](model).double()
    x = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    y = module(x)
    (grad,) = torch.autograd.grad(y.sum(), x)
    f, d = activations.formulas(name, model)
    ours_f = np.array([f(v) for v in POINTS])
    ours_d = np.array([d(v) for v in POINTS])
    np.testing.assert_allclose(ours_f, y.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours_d, grad.numpy(), rtol=1e-9, atol=1e-12)


def test_curve_spans_the_preview_range() -> None:
    xs, f, d = activations.curve("relu", points=9)
    assert xs == [-4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    assert f == [0, 0, 0, 0, 0, 1, 2, 3, 4] and d == [0, 0, 0, 0, 0, 1, 1, 1, 1]


SCHEDULE_SETS = {
    "none": ["optimizer.lr=0.05"],
    "noam": ["schedule.warmup=30", "schedule.factor=2"],
    "cosine": ["optimizer.lr=0.1", "schedule.min_lr=0.001"],
    "step": ["optimizer.lr=0.1", "schedule.step_size=2", "schedule.gamma=0.5"],
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_formula_is_the_lr_the_trainer_applied(name: str, tmp_path: Path) -> None:
    overrides = ["data.dataset=xor", "data.n_samples=300", "train.epochs=5",
                 "train.batch_size=32", "train.device=cpu", "model.hidden=[8]",
                 f"schedule.name={name}", *SCHEDULE_SETS[name]]
    code = cli.main(["train", "xor-adam", "--runs-dir", str(tmp_path), "--quiet",
                     *[a for o in overrides for a in ("--set", o)]])
    assert code == 0
    (run_dir,) = tmp_path.iterdir()
    events, _ = rundir.read_events(run_dir)
    start = next(e for e in events if e["type"] == "start")
    applied = [e["lr"] for e in events if e["type"] == "epoch"]
    config = load("name: x", "x", overrides)
    steps = schedules.steps_per_epoch(config)
    assert steps == start["steps_per_epoch"]  # the preview counts steps as the trainer does
    fn = schedules.schedule_fn(config, steps)
    expected = [fn(epoch * steps) if fn else 0.05 for epoch in range(1, 6)]
    assert applied == pytest.approx(expected, rel=1e-12)
    assert len(set(applied)) == (1 if name == "none" else 5 if name != "step" else 3)
    curve_steps, lrs = schedules.lr_curve(config, steps)
    assert curve_steps[0] == 1 and curve_steps[-1] == 5 * steps
    assert lrs[-1] == pytest.approx(applied[-1], rel=1e-12)


def test_noam_rises_for_warmup_steps_then_falls() -> None:
    lrs = [schedules.noam_lr(k, 64, 100, 1.0) for k in range(1, 301)]
    peak = max(range(300), key=lambda i: lrs[i]) + 1
    assert peak == 100
    assert lrs[99] == pytest.approx(64**-0.5 * 100**-0.5)
    assert math.isclose(lrs[299], 64**-0.5 * 300**-0.5)
