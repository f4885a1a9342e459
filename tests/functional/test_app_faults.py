"""Faults as the app meets them: its terminal hangs up or it is killed with runs training,
a run diverges, eight runs train at once, and bad values go into the new-run form."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.app.launch_form import LaunchForm
from dmt_tui.rundir.record import RunRecord, load_runs
from tests.conftest import TINY_PRESET, wait_until
from tests.functional.test_terminal import ROOT, Terminal, stop_trainers
from tests.tui.conftest import screen_text, wait_for, wait_for_text
from tests.tui.test_launch_form import open_form_on_tiny

pytestmark = pytest.mark.slow


def app_command(runs: Path, presets: Path) -> str:
    app = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "dmt_tui.cli", "--runs-dir",
                                            str(runs), "--presets-dir", str(presets)])
    return f"cd {shlex.quote(str(ROOT))} && TERM=xterm-256color {app}"


def launch_tiny_with_keys(terminal: Terminal, epochs: int) -> None:
    terminal.keys("n")
    terminal.wait_for(lambda s: "learning rate" in s, "the new-run form")
    terminal.keys("End")
    terminal.wait_for(lambda s: "a small fast net for the app's tests" in s, "tiny")
    terminal.keys("Tab", "Tab", "Tab", "Tab", *str(epochs), "Enter")
    terminal.wait_for(lambda s: "learning rate" not in s, "the form to close")


@pytest.mark.parametrize("how", ["hang-up", "SIGKILL"])
def test_runs_finish_when_the_app_dies_and_a_new_app_shows_them(tmp_path: Path,
                                                                how: str) -> None:
    presets, runs = tmp_path / "presets", tmp_path / "runs"
    presets.mkdir()
    (presets / "tiny.yaml").write_text(TINY_PRESET, encoding="utf-8")
    first, second = Terminal(), Terminal()
    try:
        first.start(app_command(runs, presets))
        first.wait_for(lambda s: "New run" in s, "the first screen")
        launch_tiny_with_keys(first, 25)
        launch_tiny_with_keys(first, 25)
        first.wait_for(lambda s: s.count("running") >= 2, "two runs training")
        if how == "hang-up":
            first.kill()  # tmux's server goes: the app's terminal hangs up (SIGHUP)
        else:
            app = subprocess.run(["pgrep", "-f", f"dmt_tui.cli --runs-dir {runs}"],
                                 capture_output=True, text=True).stdout.split()
            assert app, "the app's process"
            subprocess.run(["kill", "-9", *app], check=True)
        wait_until(lambda: len(load_runs(runs)) == 2 and all(r.end for r in load_runs(runs)),
                   timeout=180)
        records = load_runs(runs)
        assert [(r.state, len(r.epochs)) for r in records] == [("finished", 25)] * 2
        second.start(app_command(runs, presets))
        screen = second.wait_for(lambda s: s.count("finished") >= 2, "both runs finished")
        rows = [line for line in screen.splitlines() if "-tiny" in line]
        assert len(rows) == 2 and all("finished" in r and "25/25" in r for r in rows)
    finally:
        first.kill()
        second.kill()
        stop_trainers(runs)


def diverged_run(runs: Path) -> Path:
    done = subprocess.run([sys.executable, "-m", "dmt_tui.trainer", "train", "xor-sgd",
                           "--runs-dir",
                           str(runs), "--quiet", "--set", "optimizer.lr=1e5", "--set",
                           "train.epochs=20", "--set", "data.n_samples=400"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    (run_dir,) = rundir.iter_run_dirs(runs)
    return run_dir


async def test_a_diverged_run_shows_its_reason_and_the_app_keeps_working(
        tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    record = RunRecord.load(diverged_run(runs))
    reason = record.end["reason"]
    assert "became" in reason
    app = DmtApp(runs, None)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "diverged", reason.split(" (lr")[0])  # the panel says why
        await pilot.press("l", "]", "[", "n")  # every panel still takes keys
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchForm), "the form")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, LaunchForm), "back")


async def test_eight_runs_at_once_with_the_app_watching(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    trainers = [subprocess.Popen([sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam",
                                  "--runs-dir", str(runs), "--quiet", "--set",
                                  "train.epochs=30", "--set", "early_stopping.patience=0",
                                  "--set", "data.n_samples=600", "--set", f"name=eight-{i}"],
                                 start_new_session=True)
                for i in range(8)]
    try:
        app = DmtApp(runs, None)
        async with app.run_test(size=(120, 36)) as pilot:
            # all eight in the list: under load some may have finished already, so the key
            # below is answered while runs write, or after they did
            await wait_for(pilot, lambda: "8 runs," in screen_text(app), "the eight runs",
                           timeout=180)
            before = screen_text(app)
            await pilot.press("down")  # the app answers keys while eight runs write
            await wait_for(pilot, lambda: screen_text(app) != before, "the key's effect",
                           timeout=10)
            await wait_for_text(pilot, "8 runs, 0 training", timeout=300)
            rows = [line for line in screen_text(app).splitlines() if "-eight-" in line]
            assert rows and all("finished" in r and "30/30" in r for r in rows)
        assert [t.wait(60) for t in trainers] == [0] * 8
    finally:
        for t in trainers:
            t.kill()
    assert all(r.state == "finished" and len(r.epochs) == 30 for r in load_runs(runs))


@pytest.mark.parametrize("field, value, message", [
    ("train-epochs", "0", "expected a whole number >= 1"),
    ("train-epochs", "ten", "expected a whole number >= 1"),
    ("train-batch-size", "-8", "expected a whole number >= 1"),
    ("early-stopping-patience", "-1", "expected a whole number >= 0"),
    ("train-device", "gpu", "expected auto, cpu, cuda or cuda:N"),
    ("optimizer-lr", ".nan", "expected a finite number > 0"),
    ("model-hidden", "8, 0", "expected a list"),
])
async def test_bad_values_in_the_form_show_inline(presets_dir: Path, runs_dir: Path,
                                                  field: str, value: str,
                                                  message: str) -> None:
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_form_on_tiny(app, pilot)
        box = app.screen.query_one(f"#field-{field}", Input)
        box.focus()
        box.value = value
        await pilot.press("enter")
        await wait_for(pilot, lambda: message in screen_text(app), "the inline message")
        row = next(line for line in screen_text(app).splitlines() if message in line)
        assert value in row  # beside the value it is about
        assert isinstance(app.screen, LaunchForm)
        assert "Traceback" not in screen_text(app)
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_the_app_opens_no_network_port(tmp_path: Path) -> None:
    from tests.test_safety import listening_sockets

    presets, runs = tmp_path / "presets", tmp_path / "runs"
    presets.mkdir()
    (presets / "tiny.yaml").write_text(TINY_PRESET, encoding="utf-8")
    terminal = Terminal()
    try:
        terminal.start(app_command(runs, presets))
        terminal.wait_for(lambda s: "New run" in s, "the first screen")
        launch_tiny_with_keys(terminal, 30)
        terminal.wait_for(lambda s: "running" in s, "a run training")
        found = subprocess.run(["pgrep", "-f", f"dmt_tui.cli --runs-dir {runs}"],
                               capture_output=True, text=True).stdout.split()
        # the shell tmux runs matches too; the app is the python process
        app = [pid for pid in found if Path(f"/proc/{pid}/comm").read_text().startswith("py")]
        assert len(app) == 1
        assert listening_sockets(int(app[0])) == []
    finally:
        terminal.kill()
        stop_trainers(runs)
