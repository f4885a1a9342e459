"""Launching with keys and watching real trainer processes: epochs arriving, `s` stopping a
run, `q` leaving one training. Each test stops its trainers at teardown."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp, goodbye
from dmt_tui.app.confirm import StopConfirm
from dmt_tui.app.early_stop_panel import EarlyStopPanel
from dmt_tui.app.launch_form import LaunchForm
from dmt_tui.app.loss_panel import LossPanel
from dmt_tui.app.monitor import MonitorScreen
from tests.tui.conftest import run_state, screen_text, wait_for, wait_for_text

pytestmark = pytest.mark.slow
LONG = "100000"  # epochs of a run that is still training whenever a test looks


def widget_text(app: DmtApp, widget: Widget) -> str:
    """The part of the screen a widget covers."""
    region = widget.region
    rows = screen_text(app).splitlines()[region.y:region.bottom]
    return "\n".join(row[region.x:region.right] for row in rows)


def shown_epoch(app: DmtApp) -> int:
    """The epoch the loss panel's summary names, 0 before the first."""
    found = re.search(r"epoch (\d+): train", screen_text(app))
    return int(found.group(1)) if found else 0


async def launch_tiny(app: DmtApp, pilot: Pilot[None], epochs: str) -> Path:
    """n, pick `tiny` (the last preset), set the epochs, enter: keys only. Returns the new
    run's folder."""
    known = set(app.runs_dir.glob("*-tiny*"))
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, LaunchForm), "the form")
    await pilot.press("end")
    await wait_for_text(pilot, "a small fast net for the app's tests")
    await pilot.press("tab", "tab", "tab", "tab")  # activation, optimizer, lr, epochs
    assert app.focused is not None and app.focused.id == "field-train-epochs"
    if epochs == LONG:  # patience 0: a long run never stops early, it trains until stopped
        await pilot.press(*epochs, "tab", "tab", "tab", "0", "enter")
    else:
        await pilot.press(*epochs, "enter")
    await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
    await wait_for(pilot, lambda: bool(set(app.runs_dir.glob("*-tiny*")) - known),
                   "the run folder")
    return (set(app.runs_dir.glob("*-tiny*")) - known).pop()


async def test_launch_with_keys_then_watch_epochs_arrive(
        presets_dir: Path, runs_dir: Path, trainers: list[subprocess.Popen[bytes]]) -> None:
    """A run long enough to be training whenever the test looks (it is stopped at
    teardown): every state waited for here is one it always reaches."""
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        run_dir = await launch_tiny(app, pilot, LONG)
        assert len(trainers) == 1
        await wait_for_text(pilot, run_dir.name)
        await wait_for(pilot, lambda: shown_epoch(app) >= 1, "the first epoch")
        first = shown_epoch(app)
        loss = app.screen.query_one(LossPanel)
        early_stop = app.screen.query_one(EarlyStopPanel)
        loss_before, early_stop_before = widget_text(app, loss), widget_text(app, early_stop)
        assert "running" in screen_text(app)
        await wait_for(pilot, lambda: shown_epoch(app) >= first + 2, "two more epochs")
        assert widget_text(app, loss) != loss_before  # the curves grew
        assert widget_text(app, early_stop) != early_stop_before  # best or wait moved


async def test_a_launched_run_finishes_on_screen(
        presets_dir: Path, runs_dir: Path, trainers: list[subprocess.Popen[bytes]]) -> None:
    """A short run, waited for until its end, however fast or slow it trains."""
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        run_dir = await launch_tiny(app, pilot, "12")
        await wait_for_text(pilot, run_dir.name)
        await wait_for_text(pilot, "finished: completed all 12 epochs", "12/12")
        await wait_for(pilot, lambda: shown_epoch(app) == 12, "epoch 12 in the loss panel")
    assert run_state(run_dir) == "finished"
    assert trainers[0].wait(30) == 0


async def test_s_stops_the_selected_run_after_confirmation(
        presets_dir: Path, runs_dir: Path, trainers: list[subprocess.Popen[bytes]]) -> None:
    """Two runs train at once; `s` stops the selected one (the newest) and only that."""
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        other = await launch_tiny(app, pilot, LONG)
        run_dir = await launch_tiny(app, pilot, LONG)
        await wait_for_text(pilot, "2 runs, 2 training")
        await wait_for(pilot, lambda: shown_epoch(app) >= 1 and run_dir.name in
                       screen_text(app), "the first epoch of the second run")
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StopConfirm), "the question")
        await wait_for_text(pilot, f"Stop {run_dir.name}?")  # drawn
        await pilot.press("n")  # keep it: nothing is sent
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        assert run_state(run_dir) == "running"
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StopConfirm), "the question")
        await pilot.press("y")
        await wait_for_text(pilot, "stopped: ", "2 runs, 1 training")
    assert trainers[1].wait(60) is not None
    assert run_state(run_dir) == "stopped"
    assert trainers[0].poll() is None and run_state(other) == "running"
    events = rundir.read_events(run_dir)[0]
    assert events[-1]["type"] == "end" and events[-1]["state"] == "stopped"
    assert any(e["type"] == "epoch" for e in events)  # the run keeps its data


async def test_q_quits_and_leaves_the_run_training(
        presets_dir: Path, runs_dir: Path, trainers: list[subprocess.Popen[bytes]]) -> None:
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        run_dir = await launch_tiny(app, pilot, LONG)
        await wait_for(pilot, lambda: shown_epoch(app) >= 1, "the first epoch")
        await pilot.press("q")
        await wait_for(pilot, lambda: not app.is_running, "the app to exit")
    assert trainers[0].poll() is None  # still training after the app is gone
    assert run_state(run_dir) == "running"
    assert goodbye(runs_dir).startswith(f"1 run still training in {runs_dir}")
