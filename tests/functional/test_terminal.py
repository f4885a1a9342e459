"""End to end in a real terminal: tmux runs `dmt-tui`, keys go in with send-keys, and the
test reads the screen with capture-pane, as a person over SSH would see it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dmt_tui import rundir
from tests.conftest import TINY_PRESET
from tests.tui.conftest import compare_runs

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
ROOT = Path(__file__).resolve().parents[2]


class Terminal:
    """One tmux server on its own socket, holding one 120x36 window."""

    def __init__(self) -> None:
        self.socket = f"dmt-tui-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=30, check=True)
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-x", "120", "-y", "36", "-s", "app", command)

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.tmux("send-keys", "-t", "app", key)
            time.sleep(0.2)  # one key at a time, as typed: Textual reads bursts as pastes

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app")

    def wait_for(self, condition: Callable[[str], bool], what: str,
                 timeout: float = 90.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if condition(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            time.sleep(0.3)

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=30)


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.kill()


def stop_trainers(runs_dir: Path, grace_s: float = 30.0) -> None:
    """SIGTERM every trainer under `runs_dir` (then SIGKILL): none outlives the test."""
    for run_dir in rundir.iter_run_dirs(runs_dir):
        pid = rundir.read_status(run_dir).get("pid")
        if not isinstance(pid, int) or not rundir.pid_alive(pid):
            continue
        os.killpg(pid, signal.SIGTERM)  # the trainer leads its own session
        deadline = time.monotonic() + grace_s
        while rundir.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if rundir.pid_alive(pid):
            os.killpg(pid, signal.SIGKILL)


def test_launch_watch_and_quit_in_tmux(terminal: Terminal, tmp_path: Path) -> None:
    presets, runs = tmp_path / "presets", tmp_path / "runs"
    presets.mkdir()
    (presets / "tiny.yaml").write_text(TINY_PRESET, encoding="utf-8")
    app = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "dmt_tui.cli",
                                            "--runs-dir", str(runs), "--presets-dir",
                                            str(presets)])
    # The shell stays after the app, so its last words can be read off the screen.
    terminal.start(f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color {app}; "
                   f"echo app-exited-$?; sleep 600")
    try:
        terminal.wait_for(lambda s: "New run" in s and "Runs" in s, "the first screen")
        terminal.keys("n")
        terminal.wait_for(lambda s: "learning rate" in s, "the new-run form")
        terminal.keys("End")
        terminal.wait_for(lambda s: "a small fast net for the app's tests" in s, "tiny")
        terminal.keys("Tab", "Tab", "Tab", "Tab", "1", "0", "0", "0", "0", "0", "Enter")

        def two_epochs(screen: str) -> bool:
            found = re.search(r"epoch (\d+): train", screen)
            return found is not None and int(found.group(1)) >= 2

        screen = terminal.wait_for(two_epochs, "two epochs on screen")
        assert "running" in screen and "-tiny" in screen
        terminal.keys("q")
        screen = terminal.wait_for(lambda s: "app-exited-0" in s, "the app to quit")
        assert "1 run still training in" in screen

        run_dir = next(runs.glob("*-tiny"))
        status = json.loads((run_dir / "status.json").read_text())
        assert status["state"] == "running" and rundir.pid_alive(status["pid"])
        events = [json.loads(line) for line in
                  (run_dir / "events.jsonl").read_text().splitlines() if line.endswith("}")]
        assert events[0]["type"] == "start" and events[0]["preset"] == "tiny"
        assert sum(e["type"] == "epoch" for e in events) >= 2
        assert "name: tiny" in (run_dir / "config.yaml").read_text()
        assert "epochs: 100000" in (run_dir / "config.yaml").read_text()
    finally:
        stop_trainers(runs)
    assert rundir.read_status(run_dir)["state"] == "stopped"


def test_mark_two_runs_and_compare_them_in_tmux(terminal: Terminal, tmp_path: Path) -> None:
    """space, up, space, c on two finished runs: the comparison names both."""
    first, second = compare_runs(tmp_path / "runs")
    app = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "dmt_tui.cli",
                                            "--runs-dir", str(tmp_path / "runs")])
    terminal.start(f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color {app}")
    # Below 90 columns the list drops the ids' dates: look for what both forms show.
    terminal.wait_for(lambda s: first.partition("-")[2] in s and second.partition("-")[2] in s
                      and "0.4856 @12" in s, "both runs in the list")
    terminal.keys("Space", "Up", "Space")
    terminal.wait_for(lambda s: "2 marked" in s, "two marks")
    terminal.keys("c")
    screen = terminal.wait_for(lambda s: "Comparing 2 runs" in s and "25 epochs" in s,
                               "the comparison")
    assert f"1 {first}" in screen and f"2 {second}" in screen  # the legend, numbered
    assert "model.activation" in screen and "sigmoid" in screen and "tanh" in screen
    terminal.keys("Escape")
    terminal.wait_for(lambda s: "Runs · all states" in s, "back to the runs list")
