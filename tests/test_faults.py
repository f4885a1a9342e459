"""Faults: killed trainers, a dead parent, full disks, CUDA OOM, many runs at once."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from dmt_tui import rundir
from dmt_tui.presets.schema import load
from dmt_tui.rundir.record import RunRecord, load_runs
from dmt_tui.trainer import engine, loop
from dmt_tui.trainer.checkpoint import load_checkpoint
from tests.conftest import run_cli, wait_until

LONG = ["--set", "train.epochs=100000", "--set", "early_stopping.patience=0",
        "--set", "data.n_samples=400"]


def only_run(runs_dir: Path) -> Path:
    dirs = list(rundir.iter_run_dirs(runs_dir)) if runs_dir.exists() else []
    return dirs[0] if len(dirs) == 1 else runs_dir / "missing"


def epochs_in(run_dir: Path) -> int:
    return len(RunRecord.load(run_dir).epochs) if run_dir.exists() else 0


def test_sigkill_mid_epoch_reads_as_crashed_with_every_epoch_kept(runs_dir: Path) -> None:
    trainer = subprocess.Popen([sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam",
                                "--runs-dir", str(runs_dir), "--quiet", *LONG])
    try:
        wait_until(lambda: epochs_in(only_run(runs_dir)) >= 3)
    finally:
        trainer.kill()
        trainer.wait(30)
    run_dir = only_run(runs_dir)
    # a writer killed mid-line leaves a torn last line; readers skip it with a note
    with open(run_dir / "events.jsonl", "a") as f:
        f.write('{"type": "epoch", "epoch": 99, "train_lo')
    record = RunRecord.load(run_dir)
    assert record.state == "crashed"
    assert rundir.read_status(run_dir)["state"] == "running"  # nobody writes `crashed`
    assert [e["epoch"] for e in record.epochs] == list(range(1, len(record.epochs) + 1))
    assert len(record.epochs) >= 3
    assert any("torn last line" in note for note in record.notes)
    table = run_cli("runs", "--runs-dir", str(runs_dir))
    assert table.returncode == 0
    assert "crashed" in table.stdout and "torn last line" in table.stderr
    assert "Traceback" not in table.stdout + table.stderr


def test_a_stale_heartbeat_reads_as_crashed(tmp_path: Path) -> None:
    status = {"state": "running", "pid": os.getpid(), "updated": time.time() - 3600}
    assert rundir.effective_state(status) == "not_responding"  # alive here: paused, not dead
    assert rundir.effective_state({**status, "host": "elsewhere"}) == "crashed"
    status["updated"] = time.time()
    assert rundir.effective_state(status) == "running"
    status["pid"] = 2**22 + 12345  # no such process
    assert rundir.effective_state(status) == "crashed"


@pytest.mark.parametrize("how", ["SIGKILL", "SIGHUP"])
def test_runs_outlive_the_app_that_launched_them(runs_dir: Path, how: str) -> None:
    """The launching process dies (killed, or its terminal hangs up its process group)
    with two runs training: both finish, and a new reader sees every epoch."""
    script = (  # SIGHUP as a terminal's shell leaves it, though pytest may run under nohup
        "import signal; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
        "import time; from pathlib import Path; from dmt_tui.presets import load_preset; "
        "from dmt_tui.rundir.launch import launch; "
        f"[launch(load_preset(p, ['train.epochs=40', 'data.n_samples=400', "
        f"'early_stopping.patience=0']), Path({str(runs_dir)!r})) "
        "for p in ('xor-adam', 'xor-sgd')]; print('launched', flush=True); time.sleep(600)"
    )
    app = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                           start_new_session=True)
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "launched"
        wait_until(lambda: sum(epochs_in(d) for d in rundir.iter_run_dirs(runs_dir)) >= 2)
        if how == "SIGHUP":
            os.killpg(app.pid, signal.SIGHUP)  # what a dropped SSH connection does
        else:
            app.kill()
        assert app.wait(30) != 0
    finally:
        app.kill()
    runs = load_runs(runs_dir)
    assert len(runs) == 2
    wait_until(lambda: all(r.end for r in load_runs(runs_dir)))
    for record in load_runs(runs_dir):
        assert record.state == "finished" and len(record.epochs) == 40


@pytest.mark.timeout(900)  # eight torch imports at once on two busy cores: minutes
def test_eight_runs_at_once_all_finish(runs_dir: Path) -> None:
    trainers = [subprocess.Popen([sys.executable, "-m", "dmt_tui.trainer", "train", preset,
                                  "--runs-dir", str(runs_dir), "--quiet",
                                  "--set", "train.epochs=30", "--set", "data.n_samples=500",
                                  "--set", "early_stopping.patience=0",
                                  "--set", f"name=many-{i}"])
                for i, preset in enumerate(["xor-adam", "xor-sgd"] * 4)]
    codes = [t.wait(800) for t in trainers]
    assert codes == [0] * 8
    runs = load_runs(runs_dir)
    assert sorted(r.name for r in runs) == [f"many-{i}" for i in range(8)]
    assert all(r.state == "finished" and len(r.epochs) == 30 for r in runs)
    assert len({r.run_id for r in runs}) == 8  # no two runs shared a folder
    # How many threads a run took depends on which others were training when it looked
    # (tests/test_core_share.py pins the rule with runs that stay live); here only that
    # every epoch used a share of the cores, never more than the machine has.
    cores = len(os.sched_getaffinity(0))
    assert all(1 <= e["threads"] <= cores for r in runs for e in r.epochs)


def _prepared(runs_dir: Path, *overrides: str) -> tuple[dict[str, Any], Path, loop.Session]:
    config = load("name: fault", "x", ["data.dataset=xor", "data.n_samples=300",
                                       "train.epochs=5", *overrides])
    run_dir = rundir.create_run_dir(runs_dir, "fault")
    return config, run_dir, loop.prepare(config)


def test_a_full_disk_ends_the_run_failed_with_the_cause(runs_dir: Path) -> None:
    # events.jsonl on /dev/full: every write gets the kernel's real ENOSPC
    config, run_dir, session = _prepared(runs_dir)
    (run_dir / "events.jsonl").symlink_to("/dev/full")
    end = engine.run(config, run_dir, lambda line: None, session)
    assert end["state"] == "failed"
    assert "No space left on device" in end["reason"]
    status = rundir.read_status(run_dir)
    assert status["state"] == "failed" and "No space left on device" in status["reason"]


def test_a_disk_that_fills_mid_run_keeps_what_was_written(runs_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    config, run_dir, session = _prepared(runs_dir)
    real_write = rundir.EventLog.write
    written = []

    def fill_after_two_epochs(self: rundir.EventLog, type_: str, **fields: Any) -> Any:
        if sum(1 for t in written if t == "epoch") >= 2 and type_ == "epoch":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        written.append(type_)
        return real_write(self, type_, **fields)

    monkeypatch.setattr(rundir.EventLog, "write", fill_after_two_epochs)
    end = engine.run(config, run_dir, lambda line: None, session)
    assert end["state"] == "failed"
    assert end["reason"] == f"{run_dir / 'events.jsonl'}: No space left on device"
    record = RunRecord.load(run_dir)
    assert [e["epoch"] for e in record.epochs] == [1, 2]
    assert record.state == "failed"  # the end event itself still fitted
    load_checkpoint(run_dir / "best.pt")  # intact


def test_cuda_out_of_memory_ends_the_run_failed(runs_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config, run_dir, session = _prepared(runs_dir)
    real_epoch = loop.Trainer.epoch

    def oom_in_epoch_three(self: loop.Trainer, number: int) -> loop.EpochResult:
        if number == 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_epoch(self, number)

    monkeypatch.setattr(loop.Trainer, "epoch", oom_in_epoch_three)
    end = engine.run(config, run_dir, lambda line: None, session)
    assert end["state"] == "failed" and end["reason"] == "CUDA out of memory"
    assert "Tried to allocate 2.00 GiB" in end["error"]
    record = RunRecord.load(run_dir)
    assert len(record.epochs) == 2 and record.end["state"] == "failed"


def test_an_unwritable_runs_folder_is_refused_before_starting(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the runs folder should be")
    done = run_cli("train", "xor-adam", "--runs-dir", str(blocker / "runs"))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"dmt-tui: error: {blocker / 'runs'}: cannot create a run "
                                   f"folder there: Not a directory")
    assert blocker.read_text() == "a file where the runs folder should be"


def test_a_crash_inside_training_is_recorded_as_failed(runs_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    config, run_dir, session = _prepared(runs_dir)

    def broken(self: loop.Trainer, number: int) -> loop.EpochResult:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    monkeypatch.setattr(loop.Trainer, "epoch", broken)
    end = engine.run(config, run_dir, lambda line: None, session)
    assert end["state"] == "failed"
    assert end["reason"] == "RuntimeError: mat1 and mat2 shapes cannot be multiplied"
    assert "Traceback" in end["error"]  # kept in the event for whoever debugs it
    assert json.loads((run_dir / "status.json").read_text())["state"] == "failed"
