"""How a CPU run shares the cores with the runs training beside it, with live processes
standing in for trainers, so that the rule holds whatever the timing of real runs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.trainer.host import share_of_cores

CORES = len(os.sched_getaffinity(0))


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Live processes whose pids the fake runs' status files name; ended at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(10)


def live_runs(runs_dir: Path, count: int, sleepers: list[subprocess.Popen[bytes]]) -> None:
    for i in range(count):
        process = subprocess.Popen(["sleep", "600"])
        sleepers.append(process)
        run_dir = rundir.create_run_dir(runs_dir, f"other-{i}")
        rundir.write_status(run_dir, state="running", pid=process.pid)


def test_a_run_alone_takes_every_core(tmp_path: Path) -> None:
    assert share_of_cores(tmp_path / "runs") == CORES


def test_eight_live_runs_share_the_cores(tmp_path: Path,
                                         sleepers: list[subprocess.Popen[bytes]]) -> None:
    runs_dir = tmp_path / "runs"
    live_runs(runs_dir, 7, sleepers)  # with this one: eight
    assert share_of_cores(runs_dir) == max(1, CORES // 8)


def test_ended_and_crashed_runs_take_no_share(tmp_path: Path,
                                              sleepers: list[subprocess.Popen[bytes]]) -> None:
    runs_dir = tmp_path / "runs"
    live_runs(runs_dir, 1, sleepers)
    rundir.write_status(rundir.create_run_dir(runs_dir, "done"), state="finished", pid=1)
    gone = subprocess.Popen(["true"])
    gone.wait(10)
    rundir.write_status(rundir.create_run_dir(runs_dir, "gone"), state="running", pid=gone.pid)
    assert share_of_cores(runs_dir) == max(1, CORES // 2)
