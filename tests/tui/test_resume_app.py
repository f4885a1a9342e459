"""`R` resumes the selected run, as `dmt-tui train --resume [--set train.epochs=N]` does, after
asking for the epochs in all. The runs are real: one stopped part way (SIGTERM, as `s` sends)
and one that trained all its epochs, both from the real trainer; the resumed trainer is the
real one, started by the app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from textual.pilot import Pilot
from textual.widgets import Input, Static

import dmt_tui.app.resume
from dmt_tui.app.app import DmtApp
from dmt_tui.app.confirm import ResumeConfirm, StopConfirm
from dmt_tui.app.monitor import MonitorScreen
from tests.tui.conftest import (
    DATA_RUNS,
    RECORDED_RUN,
    end_process,
    run_state,
    screen_text,
    wait_for,
    wait_for_text,
)
from tests.tui.test_runs_actions import list_rows, select

ROOT = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam", "--quiet",
         "--set", "data.n_samples=400", "--set", "train.threads=1",
         "--set", "early_stopping.patience=0"]
LONG = 100_000  # epochs: the resumed run is still training when the test stops it


def events(run_dir: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The run's events (of one type), read here, apart from the code under test."""
    lines = (run_dir / "events.jsonl").read_text("utf-8").splitlines()
    return [e for e in map(json.loads, lines) if kind is None or e["type"] == kind]


def checkpoint_epoch(run_dir: Path) -> int:
    """The epoch last.pt holds, read in a child: this process stays torch-free (the app's)."""
    read = subprocess.run([sys.executable, "-c", "import sys, torch; print(torch.load("
                           "sys.argv[1], weights_only=True)['epoch'])", str(run_dir / "last.pt")],
                          capture_output=True, text=True, timeout=120, check=True)
    return int(read.stdout)


def wait_for_file(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run stopped at its third epoch or later (of LONG), and one that trained all 3 of
    its epochs; both keep last.pt. Made once for the module."""
    runs_dir = tmp_path_factory.mktemp("resumable")
    done = subprocess.run([*TRAIN, "--runs-dir", str(runs_dir), "--set", "train.epochs=3"],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (finished,) = runs_dir.iterdir()
    process = subprocess.Popen([*TRAIN, "--runs-dir", str(runs_dir), "--set",
                                f"train.epochs={LONG}"], cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        stopped = next(iter(wait_new(runs_dir, {finished})))
        wait_for_file(lambda: (stopped / "events.jsonl").is_file()
                      and len(events(stopped, "epoch")) >= 3, "three epochs")
    finally:
        end_process(process)  # SIGTERM: it ends `stopped`, writing last.pt
    assert run_state(stopped) == "stopped" and (stopped / "last.pt").is_file()
    assert run_state(finished) == "finished" and (finished / "last.pt").is_file()
    return {"stopped": stopped, "finished": finished}


def wait_new(runs_dir: Path, before: set[Path]) -> set[Path]:
    wait_for_file(lambda: set(runs_dir.iterdir()) - before, "the run folder")
    return set(runs_dir.iterdir()) - before


@pytest.fixture
def runs(trained: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A copy of the trained runs (the app resumes them), the recorded run (no last.pt),
    and a live run: a status file naming this test process."""
    folder = tmp_path / "runs"
    found = {}
    for key, run_dir in trained.items():
        shutil.copytree(run_dir, folder / run_dir.name)
        found[key] = folder / run_dir.name
    shutil.copytree(DATA_RUNS / RECORDED_RUN, folder / RECORDED_RUN)
    live = folder / "20990101-000000-live"
    live.mkdir()
    (live / "status.json").write_text(json.dumps(
        {"state": "running", "pid": os.getpid(), "updated": 4e9}))
    return {**found, "no-last": folder / RECORDED_RUN, "live": live}


@pytest.fixture
def resumed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every trainer `R` starts; each is stopped (then killed) at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    real = dmt_tui.app.resume.resume

    def recording(run_dir: Path, epochs: int | None = None) -> subprocess.Popen[bytes]:
        started.append(process := real(run_dir, epochs))
        return process

    monkeypatch.setattr(dmt_tui.app.resume, "resume", recording)
    yield started
    for process in started:
        end_process(process)


def notified(app: DmtApp, text: str) -> bool:
    """Whether a `Not resumed` toast says `text` (read unwrapped: a toast is narrow)."""
    return any(n.title == "Not resumed" and text in " ".join(n.message.split())
               for n in app._notifications)


def row_of(app: DmtApp, run_dir: Path) -> str:
    return next((row for row in list_rows(app) if run_dir.name in row), "")


async def test_r_resumes_a_stopped_run_in_its_own_folder(
        runs: dict[str, Path], resumed: list[subprocess.Popen[bytes]]) -> None:
    run_dir = runs["stopped"]
    stopped_at = events(run_dir, "end")[-1]["epochs"]
    saved_at = checkpoint_epoch(run_dir)  # a stop mid-epoch leaves it seconds behind
    lines_before = len(events(run_dir))
    app = DmtApp(run_dir.parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, run_dir.name)
        await select(pilot, app, run_dir)
        await wait_for(pilot, lambda: "stopped" in row_of(app, run_dir), "the stopped row")
        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ResumeConfirm), "the question")
        shown = screen_text(app)  # the question wraps in the dialog's box: whole, it reads
        assert f"Resume {run_dir.name} (stopped at epoch {stopped_at} of {LONG})?" \
            in app.screen.question
        assert f"Resume {run_dir.name}" in shown and "Resume (y)" in shown \
            and "Keep it (n)" in shown
        await pilot.press("n")  # keep it as it is
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        assert resumed == [] and len(events(run_dir)) == lines_before

        await pilot.press("R")
        await wait_for(pilot, lambda: isinstance(app.screen, ResumeConfirm), "the question")
        await pilot.press("y")
        await wait_for_text(pilot, f"resuming {run_dir.name}")
        await wait_for(pilot, lambda: "running" in row_of(app, run_dir), "the row running")
        await wait_for(pilot, lambda: len(events(run_dir, "epoch")) > stopped_at + 3,
                       "epochs after the seam")
        await pilot.press("s")  # and stop it again: it is far from its last epoch
        await wait_for(pilot, lambda: isinstance(app.screen, StopConfirm), "the stop question")
        await pilot.press("y")
        await wait_for(pilot, lambda: "stopped" in row_of(app, run_dir) and
                       run_state(run_dir) == "stopped", "the row stopped again")
    (process,) = resumed
    assert process.wait(60) == 4  # `stopped` (README, "Exit codes")
    kinds = [e["type"] for e in events(run_dir)]
    assert kinds.count("start") == 1 and kinds.count("resume") == 1
    seam = kinds.index("resume")
    assert kinds[:seam][-1] == "end" and kinds[-1] == "end"  # appended after the first end
    (mark,) = events(run_dir, "resume")
    assert mark["epoch"] == saved_at and mark["epochs"] == LONG
    after = [e["epoch"] for e in events(run_dir)[seam:] if e["type"] == "epoch"]
    assert after == list(range(saved_at + 1, saved_at + 1 + len(after)))
    assert after[-1] > stopped_at  # trained on past where it had stopped
    assert events(run_dir, "end")[-1]["state"] == "stopped"


async def test_r_refuses_what_cannot_be_resumed(
        runs: dict[str, Path], resumed: list[subprocess.Popen[bytes]]) -> None:
    sizes = {key: (d / "events.jsonl").stat().st_size for key, d in runs.items()
             if (d / "events.jsonl").exists()}
    refusals = {"live": "is running: only a run that has ended can be resumed",
                "no-last": "has no last.pt to resume from"}
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, *(d.name for d in runs.values()))
        for key, refusal in refusals.items():
            await select(pilot, app, runs[key])
            await pilot.press("R")
            await wait_for(pilot, lambda: notified(app, refusal), refusal)  # noqa: B023
            await wait_for_text(pilot, "Not resumed")  # and the toast drawn
            assert isinstance(app.screen, MonitorScreen)  # nothing asked
            app.clear_notifications()
    assert resumed == []
    assert sizes == {key: (d / "events.jsonl").stat().st_size for key, d in runs.items()
                     if (d / "events.jsonl").exists()}


async def test_r_with_no_run_selected_says_so(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await pilot.press("R")
        await wait_for(pilot, lambda: notified(app, "no run selected"), "the refusal")
        assert isinstance(app.screen, MonitorScreen)


async def ask_to_resume(pilot: Pilot[None], app: DmtApp, run_dir: Path) -> None:
    """Select the run once it is listed, press `R`, and wait for the question."""
    await wait_for_text(pilot, run_dir.name)
    await select(pilot, app, run_dir)
    await pilot.press("R")
    await wait_for(pilot, lambda: isinstance(app.screen, ResumeConfirm), "the question")


async def test_a_trainer_that_refuses_says_why_and_the_row_stays(
        runs: dict[str, Path], resumed: list[subprocess.Popen[bytes]]) -> None:
    run_dir = runs["stopped"]
    (run_dir / "last.pt").write_bytes(b"not a checkpoint")  # only the trainer can tell
    lines_before = len(events(run_dir))
    app = DmtApp(run_dir.parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ask_to_resume(pilot, app, run_dir)
        await pilot.press("y")
        await wait_for(pilot, lambda: notified(app, "cannot read it as a checkpoint"),
                       "the trainer's refusal")
        assert "stopped" in row_of(app, run_dir)
    (process,) = resumed
    assert process.wait(60) == 2
    assert len(events(run_dir)) == lines_before  # nothing written


def epochs_field(app: DmtApp) -> Input:
    return app.screen.query_one("#resume-epochs", Input)


def dialog_says(app: DmtApp) -> str:
    """The question's one-line refusal of the epochs typed (empty while there is none)."""
    return str(app.screen.query_one("#resume-problem", Static).content)


async def test_r_trains_a_finished_run_to_more_epochs(
        runs: dict[str, Path], resumed: list[subprocess.Popen[bytes]]) -> None:
    run_dir = runs["finished"]
    assert events(run_dir, "end")[-1]["epochs"] == 3
    app = DmtApp(run_dir.parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, run_dir.name)
        await select(pilot, app, run_dir)
        await wait_for(pilot, lambda: "3/3" in row_of(app, run_dir), "the finished row")
        await pilot.press("R")  # trained all its epochs: asked, offered twice as many
        await wait_for(pilot, lambda: isinstance(app.screen, ResumeConfirm), "the question")
        assert f"Resume {run_dir.name} (finished at epoch 3 of 3)?" in app.screen.question
        assert epochs_field(app).value == "6" and app.focused is epochs_field(app)
        await wait_for_text(pilot, "epochs in all 6")
        await pilot.press("home", "ctrl+k", "5", "enter")
        await wait_for_text(pilot, f"resuming {run_dir.name} to epoch 5")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        await wait_for(pilot, lambda: events(run_dir, "end")[-1]["epochs"] == 5
                       and run_state(run_dir) == "finished", "the run finished at epoch 5",
                       timeout=180)
        await wait_for(pilot, lambda: "5/5" in row_of(app, run_dir)
                       and "finished" in row_of(app, run_dir), "the row finished at 5/5")
    (process,) = resumed
    assert process.wait(60) == 0  # finished (README, "Exit codes")
    kinds = [e["type"] for e in events(run_dir)]
    assert kinds.count("resume") == 1 and kinds.count("end") == 2
    (mark,) = events(run_dir, "resume")
    assert mark["epoch"] == 3 and mark["epochs"] == 5
    assert [e["epoch"] for e in events(run_dir, "epoch")] == [1, 2, 3, 4, 5]
    end = events(run_dir, "end")[-1]
    assert end["state"] == "finished" and end["epochs"] == 5
    config = yaml.safe_load((run_dir / "config.yaml").read_text("utf-8"))
    assert config["train"]["epochs"] == 5  # the run's config says what it trained to


async def test_epochs_not_above_those_trained_keep_the_question_open(
        runs: dict[str, Path], resumed: list[subprocess.Popen[bytes]]) -> None:
    run_dir = runs["finished"]
    size = (run_dir / "events.jsonl").stat().st_size
    config = (run_dir / "config.yaml").read_bytes()
    accepted = "epochs: a whole number above 3, the epochs already trained"
    app = DmtApp(run_dir.parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await ask_to_resume(pilot, app, run_dir)
        assert dialog_says(app) == ""
        await pilot.press("home", "ctrl+k", *"abc", "enter")  # letters are not taken
        assert epochs_field(app).value == ""
        await wait_for(pilot, lambda: dialog_says(app) == accepted, "the refusal of ''")
        await wait_for_text(pilot, accepted)  # on the screen, on one line
        bound = f"{accepted} (train.epochs: a whole number >= 1 and <= 10000000)"
        for typed, answer, refusal in [("3", "enter", accepted), ("0", "y", accepted),
                                       ("20000000", "y", bound)]:
            await pilot.press("home", "ctrl+k", *typed)
            await wait_for(pilot, lambda: dialog_says(app) == "", "the old refusal gone")
            assert epochs_field(app).value == typed
            await pilot.press(answer)
            await wait_for(pilot, lambda: dialog_says(app) == refusal,  # noqa: B023
                           f"the refusal of {typed}")
            assert isinstance(app.screen, ResumeConfirm)  # still asking
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        assert not any(n.title == "Resume" for n in app._notifications)
    assert resumed == []  # no trainer started, nothing written
    assert (run_dir / "events.jsonl").stat().st_size == size
    assert (run_dir / "config.yaml").read_bytes() == config
