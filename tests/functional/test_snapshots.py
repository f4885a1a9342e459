"""Snapshots of the monitor on the committed finished run, at the smallest supported
terminal and a comfortable one. Nothing on screen depends on the clock: elapsed time and
samples/s of a finished run come from its files."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.tui.conftest import DATA_RUNS, wait_for_text
from tui.app import DmtApp


async def settled(pilot: Pilot[None]) -> None:
    """Wait until the watcher has read the run and every panel drew it."""
    await wait_for_text(pilot, "epoch 25: train", "finished: completed all 25 epochs",
                        "epoch 25/25", "deep-sigmoid-vanishing  circle", timeout=30)
    await pilot.pause(0.3)


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
        await pilot.pause(0.3)

    assert snap_compare(DmtApp(DATA_RUNS), terminal_size=(80, 24), run_before=scrolled)
