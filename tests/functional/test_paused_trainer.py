"""A trainer paused past the heartbeat's staleness (SIGSTOP, a swapped-out box) is alive: the
app shows it `not-responding`, never deletes its folder, and shows it running again once it
resumes. A real trainer, real signals; DMT_STALE_AFTER_S shortens the wait from 60 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.app.runs_list import RunsList
from tests.conftest import wait_until
from tests.tui.conftest import end_process, screen_text, wait_for

STALE_S = 8  # above the trainer's 5 s heartbeat, so a running trainer never looks stale


def start_trainer(runs: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "dmt_tui.trainer", "train", "xor-adam", "--runs-dir",
         str(runs), "--quiet", "--set", "train.epochs=100000", "--set",
         "early_stopping.patience=0", "--set", "data.n_samples=400", "--set", "train.threads=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def notified(app: DmtApp, text: str) -> bool:
    """Whether a notification (a toast, shown or gone) said `text`."""
    return any(text in " ".join(n.message.split()) for n in app._notifications)


def row_of(app: DmtApp, run_id: str) -> str:
    return next((line for line in screen_text(app).splitlines() if run_id in line), "")


async def test_a_paused_trainer_is_not_responding_then_running_and_never_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMT_STALE_AFTER_S", str(STALE_S))
    runs = tmp_path / "runs"
    trainer = start_trainer(runs)
    try:
        wait_until(lambda: any(rundir.effective_state(rundir.read_status(d)) == "running"
                               for d in rundir.iter_run_dirs(runs)), 180, "a running trainer")
        (run_dir,) = rundir.iter_run_dirs(runs)
        app = DmtApp(runs)
        async with app.run_test(size=(120, 36), notifications=True) as pilot:
            await wait_for(pilot, lambda: "running" in row_of(app, run_dir.name), "running")
            os.kill(trainer.pid, signal.SIGSTOP)
            await wait_for(pilot, lambda: "not-responding" in row_of(app, run_dir.name),
                           "not-responding", timeout=STALE_S * 6)
            assert "crashed" not in row_of(app, run_dir.name)
            await pilot.press("d")  # refused: the process is alive
            await wait_for(pilot, lambda: notified(app, "stop it first"), "a refusal", 30)
            assert len(app.screen_stack) == 1, "no delete confirmation for a live run"
            # Even had the list been stale, the delete itself checks the process.
            app.screen.delete_run(run_dir)  # type: ignore[attr-defined]
            await wait_for(pilot, lambda: notified(app, "its trainer is alive"), "a refusal",
                           30)
            assert (run_dir / "events.jsonl").exists()
            os.kill(trainer.pid, signal.SIGCONT)
            await wait_for(pilot, lambda: " running " in row_of(app, run_dir.name),
                           "running again", timeout=STALE_S * 6)
            epochs = rundir.read_status(run_dir).get("epoch") or 0
            await wait_for(pilot, lambda: (rundir.read_status(run_dir).get("epoch") or 0)
                           > epochs, "training to go on", timeout=60)
            os.kill(trainer.pid, signal.SIGTERM)
            assert trainer.wait(60) == 4  # stopped, with its data
            await wait_for(pilot, lambda: "stopped" in row_of(app, run_dir.name), "stopped")
            assert app.screen.query_one(RunsList).records[run_dir.name].state == "stopped"
        assert app.return_code in (0, None)
    finally:
        try:
            os.kill(trainer.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        end_process(trainer)


def test_stale_after_can_be_set_for_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMT_STALE_AFTER_S", "2.5")
    assert rundir.stale_after_s() == 2.5
    for bad in ("0", "-1", "soon", "nan", "inf"):
        monkeypatch.setenv("DMT_STALE_AFTER_S", bad)
        assert rundir.stale_after_s() == rundir.STALE_AFTER_S
