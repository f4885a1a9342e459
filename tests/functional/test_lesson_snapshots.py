"""Snapshots of the lesson views on recorded runs, at the smallest supported terminal and a
comfortable one: the learning rate and smoothing, the gradient heatmap, and the decision
boundary of a 2-D run. Nothing on screen depends on the clock."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from dmt_tui.app.app import DmtApp
from tests.functional.test_snapshots import settled
from tests.tui.conftest import DATA_RUNS, wait_for_text, wait_steady

RUNS_2D = DATA_RUNS.parent / "recorded-2d"


def test_lr_and_smoothing_at_120x36(snap_compare: Any) -> None:
    async def shown(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("r", "a", "a")
        await wait_for_text(pilot, "learning rate", "Loss smooth 0.9", timeout=30)
        await wait_steady(pilot)

    assert snap_compare(DmtApp(DATA_RUNS), terminal_size=(120, 36), run_before=shown)


def test_gradient_heatmap_at_120x36(snap_compare: Any) -> None:
    async def shown(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("v")
        await wait_for_text(pilot, "Gradient norms over time", "epochs 1..25", timeout=30)
        await wait_steady(pilot)

    assert snap_compare(DmtApp(DATA_RUNS), terminal_size=(120, 36), run_before=shown)


def _boundary(size: tuple[int, int]) -> Any:
    async def shown(pilot: Pilot[None]) -> None:
        await wait_for_text(pilot, "epoch 12: train", "finished: completed all 12 epochs",
                            timeout=30)
        await pilot.press("b")
        await wait_for_text(pilot, "Boundary  epoch 12", "●", timeout=30)
        await wait_steady(pilot)

    return shown


def test_boundary_at_80x24(snap_compare: Any, tmp_path: Path) -> None:
    shutil.copytree(RUNS_2D, tmp_path / "runs")
    assert snap_compare(DmtApp(tmp_path / "runs"), terminal_size=(80, 24),
                        run_before=_boundary((80, 24)))


def test_boundary_at_120x36(snap_compare: Any, tmp_path: Path) -> None:
    shutil.copytree(RUNS_2D, tmp_path / "runs")
    assert snap_compare(DmtApp(tmp_path / "runs"), terminal_size=(120, 36),
                        run_before=_boundary((120, 36)))
