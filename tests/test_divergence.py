"""Blow-ups that never become NaN: the guard on crafted sequences, and a real run of a far
too large learning rate ending `diverged` with exit code 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.presets import list_presets
from dmt_tui.presets.schema import ConfigError, load
from dmt_tui.trainer import cli, engine
from dmt_tui.trainer.divergence import DivergenceGuard, guard_for
from tests.conftest import run_cli


def first_blowup(guard: DivergenceGuard, losses: list[tuple[float, float]]) -> str | None:
    for epoch, (train, val) in enumerate(losses, 1):
        reason = guard.check(train, val, epoch, lr=0.5)
        if reason:
            return reason
    return None


def test_factor_rule_fires_on_the_first_epoch_over_the_limit() -> None:
    guard = DivergenceGuard(factor=100.0, untrained=0.7)
    assert first_blowup(guard, [(0.6, 0.5), (2.0, 1.0), (69.9, 3.0)]) is None
    reason = first_blowup(guard, [(0.6, 0.5), (70.1, 0.4), (1e26, 1e26)])
    assert reason is not None
    assert "train_loss 70.1 at epoch 2" in reason and "100x" in reason and "0.7" in reason
    assert "lr 0.5" in reason and "smaller learning rate" in reason
    assert "optimizer.lr=0.05" in reason


def test_threshold_is_lightnings_strictly_above_on_val_loss() -> None:
    guard = DivergenceGuard(threshold=5.0)
    assert first_blowup(guard, [(100.0, 5.0), (1e9, 4.0)]) is None  # train_loss is not watched
    reason = first_blowup(guard, [(1.0, 1.0), (1.0, 5.001)])
    assert reason is not None and "val_loss 5 rose above divergence_threshold 5 at epoch 2" \
        in reason


def test_off_when_null_or_without_a_scale() -> None:
    assert not DivergenceGuard(factor=None).needs_untrained
    for untrained in (None, 0.0, float("nan")):
        guard = DivergenceGuard(factor=100.0, untrained=untrained)
        assert first_blowup(guard, [(1e30, 1e30)]) is None


def test_schema_defaults_and_checks() -> None:
    config = load("name: x", "x")
    assert config["early_stopping"]["divergence_factor"] == 100.0
    assert config["early_stopping"]["divergence_threshold"] is None
    off = load("name: x", "x", ["early_stopping.divergence_factor=null"])
    assert off["early_stopping"]["divergence_factor"] is None
    with pytest.raises(ConfigError, match="divergence_factor"):
        load("name: x", "x", ["early_stopping.divergence_factor=0.5"])


BLOWUP = """\
data: {dataset: gauss, n_samples: 1000}
model: {hidden: [16, 16], activation: relu}
optimizer: {name: sgd, lr: 100, momentum: 0.9}
train: {epochs: 30}
"""


def test_a_learning_rate_of_100_ends_diverged_with_exit_3(tmp_path: Path) -> None:
    preset = tmp_path / "blowup.yaml"
    preset.write_text(BLOWUP)
    runs = tmp_path / "runs"
    done = run_cli("train", str(preset), "--runs-dir", str(runs), "--set", "train.device=cpu")
    assert done.returncode == 3, done.stderr
    (run_dir,) = runs.iterdir()
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "diverged"
    events, _ = rundir.read_events(run_dir)
    end = events[-1]
    assert end["type"] == "end" and end["state"] == "diverged"
    assert end["epochs"] < 30
    assert "lr 100" in end["reason"] and "smaller learning rate" in end["reason"]
    assert f"epoch {end['epochs']}" in end["reason"]
    assert "diverged:" in done.stdout


def test_no_built_in_preset_trips_the_guard(tmp_path: Path, monkeypatch: Any) -> None:
    """A few epochs of each (all their epochs, measured once, stayed under 1.01x)."""
    guards: list[DivergenceGuard] = []

    def keep(session: Any) -> DivergenceGuard:
        guards.append(guard_for(session))
        return guards[-1]

    monkeypatch.setattr(engine, "guard_for", keep)
    for info in list_presets():
        out = tmp_path / info.name
        code = cli.main(["train", info.name, "--runs-dir", str(out), "--quiet",
                         "--set", "train.epochs=3", "--set", "train.device=cpu"])
        (run_dir,) = out.iterdir()
        events, _ = rundir.read_events(run_dir)
        assert code == 0 and events[-1]["state"] != "diverged", (info.name, events[-1])
        worst = max(e["train_loss"] for e in events if e["type"] == "epoch")
        untrained = guards[-1].untrained
        assert untrained is not None and worst < 2 * untrained, (info.name, worst, untrained)
