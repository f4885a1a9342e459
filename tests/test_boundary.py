"""The `boundary` event: its grid, its quantization, and real runs' events against the model
they describe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from dmt_tui import rundir
from dmt_tui.presets.schema import load
from dmt_tui.trainer import cli
from dmt_tui.trainer.boundary import (
    COLS,
    LEVELS,
    MAX_POINTS,
    ROWS,
    dequantize,
    grid_extent,
    grid_points,
    quantize,
)
from dmt_tui.trainer.checkpoint import load_checkpoint
from dmt_tui.trainer.models import build_model


def test_grid_runs_row_by_row_from_the_top_over_the_extent() -> None:
    grid = grid_points([-1.0, 3.0, 0.0, 2.0], cols=5, rows=3)
    assert grid.shape == (15, 2)
    assert grid[0].tolist() == [-1.0, 2.0]  # top left: x_min, y_max
    assert grid[4].tolist() == [3.0, 2.0]  # top right
    assert grid[-1].tolist() == [3.0, 0.0]  # bottom right: x_max, y_min
    assert grid[5:10, 1].tolist() == [1.0] * 5  # the second row


def test_extent_covers_the_points_with_a_margin() -> None:
    x = np.array([[0.0, -2.0], [1.0, 2.0], [0.5, 0.0]])
    x_min, x_max, y_min, y_max = grid_extent(x)
    assert x_min == pytest.approx(-0.05) and x_max == pytest.approx(1.05)
    assert y_min == pytest.approx(-2.2) and y_max == pytest.approx(2.2)


def test_quantization_is_nearest_of_sixteen_levels_and_clipped() -> None:
    values = np.array([0.0, 1.0, 0.5, 1 / 15, 0.51, -3.0, 7.0])
    digits = quantize(values, 0.0, 1.0)
    assert digits == "0f8" + "18" + "0f"
    rng = np.random.default_rng(0)
    many = rng.uniform(-2.0, 5.0, 1000)
    back = dequantize(quantize(many, -2.0, 5.0), -2.0, 5.0)
    assert np.abs(back - many).max() <= 7.0 / (LEVELS - 1) / 2 + 1e-12


def _train(runs: Path, *overrides: str) -> list[dict[str, Any]]:
    code = cli.main(["train", "mlp-relu-spiral", "--runs-dir", str(runs), "--quiet",
                     "--set", "train.device=cpu", "--set", "data.n_samples=400",
                     *[a for o in overrides for a in ("--set", o)]])
    assert code == 0
    (run_dir,) = runs.iterdir()
    events, _ = rundir.read_events(run_dir)
    return events


def test_a_2d_run_writes_the_boundary_of_its_model(tmp_path: Path) -> None:
    events = _train(tmp_path / "runs", "train.epochs=3")
    boundaries = [e for e in events if e["type"] == "boundary"]
    epochs = [e for e in events if e["type"] == "epoch"]
    assert boundaries and boundaries[-1]["epoch"] == epochs[-1]["epoch"] == 3
    last = boundaries[-1]
    assert (last["cols"], last["rows"]) == (COLS, ROWS)
    assert len(last["values"]) == COLS * ROWS
    assert set(last["values"]) <= set("0123456789abcdef")
    assert (last["low"], last["high"]) == (0.0, 1.0)
    points = boundaries[0]["points"]
    assert all("points" not in b for b in boundaries[1:])  # written once
    assert 0 < len(points["train"]) <= MAX_POINTS and 0 < len(points["val"]) <= MAX_POINTS
    x_min, x_max, y_min, y_max = last["extent"]
    for x, y, label in points["train"] + points["val"]:
        assert x_min < x < x_max and y_min < y < y_max and label in (0, 1)


def test_the_boundary_is_the_models_output(tmp_path: Path) -> None:
    """One epoch: best.pt holds the weights the only boundary was drawn from."""
    events = _train(tmp_path / "runs", "train.epochs=1")
    (last,) = [e for e in events if e["type"] == "boundary"]
    run_dir = next((tmp_path / "runs").iterdir())
    config = load((run_dir / "config.yaml").read_text(), "config.yaml")
    model = build_model(config["model"], 2, 2)
    model.load_state_dict(load_checkpoint(run_dir / "best.pt"))
    with torch.no_grad():
        grid = torch.from_numpy(grid_points(last["extent"])).float()
        p1 = model(grid).softmax(1)[:, 1].double().numpy()
    ours = np.array([int(c, 16) for c in last["values"]])
    theirs = np.array([int(c, 16) for c in quantize(p1, 0.0, 1.0)])
    assert np.abs(ours - theirs).max() <= 1 and (ours == theirs).mean() > 0.99


def test_plane_regression_quantizes_its_prediction_between_target_bounds(
        tmp_path: Path) -> None:
    events = _train(tmp_path / "runs", "train.epochs=2", "data.dataset=plane")
    last = [e for e in events if e["type"] == "boundary"][-1]
    assert last["low"] < 0 < last["high"]


@pytest.mark.parametrize("overrides", [("data.dataset=wine",), ("train.boundary=false",)])
def test_no_boundary_without_a_plane_or_when_turned_off(tmp_path: Path,
                                                         overrides: tuple[str, ...]) -> None:
    events = _train(tmp_path / "runs", "train.epochs=2", *overrides)
    assert not [e for e in events if e["type"] == "boundary"]
