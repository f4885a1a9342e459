"""A trainer launched by the app that dies before it writes anything (a python that cannot
import dmt_tui, an argument the trainer refuses) reads `crashed` as soon as it is gone, not
`starting` until its heartbeat goes stale 60 s later: the launcher puts the child's pid in
status.json at once. And a stop sent through that pid at once ends the run `stopped`."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.presets import load_preset
from dmt_tui.rundir.launch import launch, stop
from dmt_tui.rundir.record import RunRecord
from tests.conftest import wait_until
from tests.tui.conftest import screen_text, wait_for

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.fixture(autouse=True)
def default_staleness(monkeypatch: pytest.MonkeyPatch) -> None:
    """The heartbeat's own 60 s: what these tests show is that no one waits for it."""
    monkeypatch.delenv("DMT_STALE_AFTER_S", raising=False)


def launch_doomed(tmp_path: Path, how: str) -> tuple[Path, subprocess.Popen[bytes], str]:
    """Launch a trainer that dies before its first write; return the words it leaves in
    trainer.log."""
    config = load_preset("xor-adam", ["train.epochs=2"])
    if how == "more processes than cores":  # the app's form takes any N >= 1
        run_dir, process = launch(config, tmp_path / "runs", nproc=CORES + 1)
        return run_dir, process, "argument --nproc: expected a whole number from 1 to"
    broken = tmp_path / "site" / "dmt_tui"  # a broken install, found before the real one
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('dmt_tui is half installed')\n")
    run_dir, process = launch(config, tmp_path / "runs",
                              env={"PYTHONPATH": str(broken.parent)})
    return run_dir, process, "dmt_tui is half installed"


@pytest.mark.parametrize("how", ["more processes than cores", "a python that cannot import us"])
def test_a_launched_trainer_that_dies_at_once_reads_crashed_at_once(tmp_path: Path,
                                                                     how: str) -> None:
    run_dir, process, words = launch_doomed(tmp_path, how)
    seen: dict[str, Any] = {}

    def crashed() -> bool:
        # the app's reader, as the app reads it; the child is not reaped (the app does not
        # wait for it either): a zombie is a dead process
        seen.update(state=RunRecord.load(run_dir).state, status=rundir.read_status(run_dir),
                    at=time.time())
        return seen["state"] == "crashed"

    try:
        wait_until(crashed, timeout=45, what="the run to read crashed")
    finally:
        process.wait(60)
    assert process.returncode != 0
    status = seen["status"]
    assert status["state"] == "starting" and status["pid"] == process.pid  # by the launcher
    # crashed for a dead pid, not for a stale heartbeat
    assert seen["at"] - status["updated"] < rundir.stale_after_s() == 60
    assert words in (run_dir / rundir.LOG).read_text()  # why, for whoever looks


async def test_the_app_shows_it_crashed(tmp_path: Path) -> None:
    run_dir, process, _ = launch_doomed(tmp_path, "more processes than cores")
    app = DmtApp(tmp_path / "runs")
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: "crashed" in next(
                (line for line in screen_text(app).splitlines() if run_dir.name in line), ""),
                "the run's row to say crashed", timeout=45)
            assert time.time() - rundir.read_status(run_dir)["updated"] < 60
    finally:
        process.wait(60)
    assert app.return_code in (0, None)


@pytest.mark.parametrize("nproc", [1, 2])
def test_a_stop_sent_as_a_launched_trainer_starts_ends_it_stopped(tmp_path: Path,
                                                                  nproc: int) -> None:
    """The app's `s` right after launching: the pid is there, and the SIGTERM waits for the
    trainer to take its stop signals instead of killing it half started."""
    config = load_preset("xor-adam", ["train.epochs=2"])
    run_dir, process = launch(config, tmp_path / "runs", nproc=nproc)
    try:
        assert stop(run_dir)
        assert process.wait(120) == 4  # the exit code of `stopped`
    finally:
        process.kill()
    record = RunRecord.load(run_dir)
    assert record.state == "stopped"
    assert record.end["reason"] == "stopped by SIGTERM before training started"
