"""Every key of the monitor on an empty runs list, and on a list that the state filter has
emptied: none may end the app, and the app still answers keys afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmt_tui.app.app import DmtApp
from dmt_tui.app.monitor import MonitorScreen
from dmt_tui.app.runs_list import STATE_FILTERS
from tests.tui.conftest import screen_text, wait_for, wait_for_text

# Every key bound on the monitor (the runs list has the focus), and the list's own keys.
LIST_KEYS = ["up", "down", "pageup", "pagedown", "home", "end", "enter", "space", "left",
             "right"]
MONITOR_KEYS = [binding.key for binding in MonitorScreen.BINDINGS if binding.key != "n"]
KEYS = [*LIST_KEYS, *MONITOR_KEYS, "tab", "up", "down", "shift+tab", "up", "escape"]


async def press_everything(app: DmtApp, pilot: object) -> None:
    for key in KEYS:
        await pilot.press(key)  # type: ignore[attr-defined]
        await pilot.pause()  # type: ignore[attr-defined]
        assert app.is_running, f"the app ended on {key!r}"
        if len(app.screen_stack) > 1:  # a dialog opened (none should on an empty list)
            await pilot.press("escape")  # type: ignore[attr-defined]


async def test_every_key_on_an_empty_runs_folder(tmp_path: Path) -> None:
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "No runs yet")
        await press_everything(app, pilot)
        await pilot.press("question_mark")
        await wait_for_text(pilot, "Delete confirmation", timeout=20)
        await pilot.press("escape")
        assert app.is_running
    assert app.return_code in (0, None)


async def test_every_key_after_the_filter_hides_every_run(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "finished", "deep-sigmoid-vanishing")
        await pilot.press("f")  # live: the finished run is filtered away
        await wait_for(pilot, lambda: "none live of 1 runs" in screen_text(app), "an empty filter")
        await press_everything(app, pilot)
        for _ in STATE_FILTERS:  # round every filter, every key on each
            await pilot.press("f")
            await press_everything(app, pilot)
        for _ in STATE_FILTERS:  # f and F among the keys cancel out: go round to "all"
            if "all states" in screen_text(app):
                break
            await pilot.press("f")
        await wait_for_text(pilot, "deep-sigmoid-vanishing")
    assert app.return_code in (0, None)


@pytest.mark.parametrize("key", ["up", "down", "space", "s", "d", "c", "e", "enter"])
async def test_one_key_on_an_empty_list(tmp_path: Path, key: str) -> None:
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "No runs yet")
        await pilot.press(key)
        await pilot.pause(0.3)
        assert app.is_running
        await pilot.press("escape")
    assert app.return_code in (0, None)
