"""No key and no file ends the app: an error in a handler, a key's action or a redraw is
shown and logged and the app goes on; an error that reaches Textual's top level ends the app
with a crash log in the runs folder and one line naming it, exit status 1."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from dmt_tui.app import guard
from dmt_tui.app.app import DmtApp
from dmt_tui.app.grad_panel import GradPanel
from dmt_tui.app.loss_panel import LossPanel
from tests.tui.conftest import wait_for, wait_for_text

ROOT = Path(__file__).resolve().parents[2]


def boom(*_: Any, **__: Any) -> None:
    raise RuntimeError("boom from a test")


def notified(app: DmtApp, text: str) -> bool:
    return any(text in " ".join(n.message.split()) for n in app._notifications)


async def test_a_panel_that_fails_at_every_redraw_is_shown_once(
        recorded_runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LossPanel, "draw", boom)
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for(pilot, lambda: notified(app, "boom from a test"), "the error shown")
        await pilot.pause(1.0)  # four redraws a second: each fails again
        assert sum("boom" in n.message for n in app._notifications) == 1
        await pilot.press("l", "down", "up", "]")
        await wait_for_text(pilot, "deep-sigmoid-vanishing", "Gradient norms")
        assert app.is_running
    assert app.return_code in (0, None)
    log = (recorded_runs / guard.ERRORS_LOG).read_text()
    assert "RuntimeError: boom from a test" in log and log.count("--- ") == 1


async def test_a_key_whose_action_fails_is_shown_and_the_app_goes_on(
        recorded_runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GradPanel, "step_layer", boom)
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, "deep-sigmoid-vanishing")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: notified(app, "boom from a test"), "the error shown")
        await pilot.press("question_mark")
        await wait_for_text(pilot, "Delete confirmation", timeout=20)  # keys still work
        await pilot.press("escape")
        assert app.is_running
    assert app.return_code in (0, None)


async def test_an_error_past_every_guard_writes_a_crash_log(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dmt_tui.app.monitor import MonitorScreen

    monkeypatch.setattr(MonitorScreen, "compose", boom)  # not a handler: nothing guards it
    runs = tmp_path / "runs"
    app = DmtApp(runs)
    with pytest.raises(RuntimeError, match="boom from a test"):  # run_test re-raises it
        async with app.run_test(size=(80, 24)):
            pass
    assert app.return_code == 1
    assert app.crash_log is not None and app.crash_log.parent == runs
    assert "RuntimeError: boom from a test" in app.crash_log.read_text()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_the_command_names_the_crash_log_in_one_line_and_exits_1(tmp_path: Path) -> None:
    """`dmt-tui` in a real terminal, its screen broken by a patch: one line, status 1."""
    from tests.functional.test_terminal import Terminal

    runs = tmp_path / "runs"
    script = tmp_path / "broken_app.py"
    script.write_text(
        "import sys\n"
        "from dmt_tui.app.monitor import MonitorScreen\n"
        "def boom(self): raise RuntimeError('boom from a test')\n"
        "MonitorScreen.compose = boom\n"
        "from dmt_tui.cli import main\n"
        f"sys.exit(main(['--runs-dir', {str(runs)!r}]))\n")
    command = (f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color {shlex.quote(sys.executable)}"
               f" {shlex.quote(str(script))}; echo EXIT=$?; sleep 60")
    terminal = Terminal()
    try:
        terminal.start(command)
        screen = terminal.wait_for(lambda s: "EXIT=" in s, "the app to end", timeout=90)
    finally:
        terminal.kill()
    (log,) = runs.glob("dmt-tui-crash-*.log")
    said = [line for line in screen.splitlines() if line.strip()]
    assert said[-1] == "EXIT=1"
    # The one line, as the terminal wrapped it at 120 columns.
    assert "".join(said[:-1]) == ("dmt-tui: the app stopped on an unexpected error; the "
                                  f"traceback is in {log}")
    assert "RuntimeError: boom from a test" in log.read_text()



async def test_a_background_task_that_fails_is_shown_and_the_app_goes_on(
        recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, "deep-sigmoid-vanishing")
        app.run_worker(boom, thread=True)  # Textual's default: exit_on_error=True
        await wait_for(pilot, lambda: notified(app, "boom from a test"), "the error shown")
        await pilot.press("l")
        await wait_for_text(pilot, "Loss (log y)")
        assert app.is_running
    assert app.return_code in (0, None)
