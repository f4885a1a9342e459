"""Issue 17 in a real terminal: keys sent to tmux in one burst (one send-keys, no pauses)
land where they were meant to, and an 80x24 terminal keeps `q Quit` and `? Keys` in view
and says what to press first."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TINY_PRESET
from tests.functional.test_terminal import ROOT, Terminal, stop_trainers

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    term = Terminal()
    yield term
    term.kill()


def start_app(terminal: Terminal, tmp_path: Path, size: tuple[int, int]) -> Path:
    presets, runs = tmp_path / "presets", tmp_path / "runs"
    presets.mkdir()
    (presets / "tiny.yaml").write_text(TINY_PRESET, encoding="utf-8")
    app = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "dmt_tui.cli",
                                            "--runs-dir", str(runs), "--presets-dir",
                                            str(presets)])
    terminal.tmux("new-session", "-d", "-x", str(size[0]), "-y", str(size[1]), "-s", "app",
                  f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color {app}; sleep 600")
    return runs


def burst(terminal: Terminal, *keys: str) -> None:
    """Every key in one send-keys: tmux writes them to the app's terminal back to back."""
    subprocess.run(["tmux", "-L", terminal.socket, "send-keys", "-t", "app", *keys],
                   check=True, timeout=30)


def test_a_burst_of_keys_sets_the_fields_it_was_typed_into(
        terminal: Terminal, tmp_path: Path) -> None:
    """`End Tab Tab Tab 1 0 0` gave lr `1002`, and `Tab Tab Tab 1 0 0` left it as it was."""
    runs = start_app(terminal, tmp_path, (120, 36))
    try:
        terminal.wait_for(lambda s: "No runs yet. Press n to start one" in s, "the first screen")
        terminal.keys("n")
        terminal.wait_for(lambda s: "learning rate" in s, "the new-run form")
        burst(terminal, "End", "Tab", "Tab", "Tab", "1", "0", "0", "Tab", "3")
        screen = terminal.wait_for(
            lambda s: "a small fast net for the app's tests" in s
            and "learning rate  100 " in s and "epochs         3 " in s, "lr 100, epochs 3")
        assert "8, 8" in screen  # tiny's own hidden layers: the preset was filled first
        burst(terminal, "Enter")
        terminal.wait_for(lambda s: "tiny.lr-100" in s, "the run, named after its lr")
        config = next(runs.glob("*-tiny.lr-100")) / "config.yaml"
        assert "lr: 100" in config.read_text() and "epochs: 3" in config.read_text()
    finally:
        stop_trainers(runs)


def test_at_80x24_the_footer_keeps_quit_and_keys(terminal: Terminal, tmp_path: Path) -> None:
    runs = start_app(terminal, tmp_path, (80, 24))
    def footer(screen: str) -> str:
        return screen.rstrip("\n").splitlines()[-1] if screen.strip() else ""

    screen = terminal.wait_for(lambda s: "No runs yet" in s and "Quit" in footer(s),
                               "the first screen and its footer")
    assert "q Quit" in footer(screen) and "? Keys" in footer(screen)
    terminal.keys("?")
    terminal.wait_for(lambda s: "New-run form" in s, "every key")
    assert not runs.exists() or not any(runs.iterdir())
