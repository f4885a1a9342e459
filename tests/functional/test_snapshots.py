"""Snapshots of the monitor on the committed finished run, at the smallest supported
terminal and a comfortable one. Nothing on screen depends on the clock: elapsed time and
samples/s of a finished run come from its files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from dmt_tui.app.app import DmtApp
from tests.tui.conftest import DATA_RUNS, compare_runs, wait_for_text, wait_steady


async def settled(pilot: Pilot[None]) -> None:
    """Wait until the watcher has read the run and every panel drew it."""
    await wait_for_text(pilot, "epoch 25: train", "finished: completed all 25 epochs",
                        "epoch 25/25", "deep-sigmoid-vanishing  circle", timeout=30)
    await wait_steady(pilot)


def test_monitor_at_80x24(snap_compare: Any) -> None:
    assert snap_compare(DmtApp(DATA_RUNS), terminal_size=(80, 24), run_before=settled)


def test_monitor_at_120x36(snap_compare: Any) -> None:
    assert snap_compare(DmtApp(DATA_RUNS), terminal_size=(120, 36), run_before=settled)


def test_gradient_panel_scrolled_into_view_at_80x24(snap_compare: Any) -> None:
    async def scrolled(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("tab", "end", "right_square_bracket")
        await wait_for_text(pilot, "layer fc2 (2/9)", timeout=30)
        await pilot.wait_for_scheduled_animations()  # the scroll glides
        await wait_steady(pilot)

    assert snap_compare(DmtApp(DATA_RUNS), terminal_size=(80, 24), run_before=scrolled)


def test_comparison_at_120x36(snap_compare: Any, tmp_path: Path) -> None:
    """Two fixed runs marked and compared: legend, what differs, both plots."""
    first, second = compare_runs(tmp_path / "runs")

    async def compared(pilot: Pilot[None]) -> None:
        await wait_for_text(pilot, first, second, "0.4856 @12", timeout=30)
        await pilot.press("space", "up", "space", "c")
        await wait_for_text(pilot, "Comparing 2 runs", "model.activation", "25 epochs",
                            "fc1", "epoch", timeout=30)
        await wait_for_text(pilot, "━━ 2 20261126-160502-deep-tanh  finished  25 epochs",
                            timeout=30)
        await wait_steady(pilot)

    assert snap_compare(DmtApp(tmp_path / "runs"), terminal_size=(120, 36),
                        run_before=compared)
