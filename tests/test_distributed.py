"""Data-parallel runs (`--nproc`, and a user's own torchrun), on the CPU with gloo and two
processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dmt_tui.rundir.digest import read_chunks
from dmt_tui.rundir.record import RunRecord, load_runs
from tests.conftest import run_cli, wait_until

SMALL = ["--set", "data.n_samples=800", "--set", "train.batch_size=64"]
FOREVER = ["--set", "train.epochs=100000", "--set", "early_stopping.patience=0"]
# Two processes each sum their share of every global batch; the order of float32 additions
# differs from one process's, so losses agree to rounding, not bit for bit.
TOLERANCE = 1e-4


def val_losses(run_dir: Path) -> list[float]:
    return [e["val_loss"] for e in RunRecord.load(run_dir).epochs]


def trainer_processes(run_dir: Path) -> list[str]:
    found = subprocess.run(["pgrep", "-af", str(run_dir)], capture_output=True, text=True)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def test_two_processes_match_one_with_the_same_global_batch(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("train", "xor-adam", "--runs-dir", str(one), "--quiet",
                   "--set", "train.epochs=4", *SMALL).returncode == 0
    done = run_cli("train", "xor-adam", "--runs-dir", str(two), "--quiet", "--nproc", "2",
                   "--set", "train.epochs=4", *SMALL, timeout=180)
    assert done.returncode == 0, done.stderr
    (single,) = load_runs(one)
    (parallel,) = load_runs(two)
    assert parallel.state == "finished" and parallel.start["world_size"] == 2
    assert [r["rank"] for r in parallel.start["ranks"]] == [0, 1]
    assert parallel.start["steps_per_epoch"] == single.start["steps_per_epoch"]
    assert val_losses(parallel.run_dir) == pytest.approx(val_losses(single.run_dir),
                                                         rel=TOLERANCE)
    train = [e["train_loss"] for e in parallel.epochs]
    assert train == pytest.approx([e["train_loss"] for e in single.epochs], rel=TOLERANCE)
    # rank 0 alone wrote the run folder: one of each file, one line per event
    assert sorted(p.name for p in parallel.run_dir.iterdir()) == [
        "best.pt", "config.yaml", "digest.jsonl", "events.jsonl", "last.pt", "status.json",
        "trainer.log"]
    assert sum(chunk.size for chunk in read_chunks(parallel.run_dir)) == 4
    assert len(parallel.grads) == 4 and len(parallel.epochs) == 4
    # rank 0's norms, combined per layer on the host, are the single process's
    for ours, theirs in zip(parallel.grads, single.grads, strict=True):
        assert ours["epoch"] == theirs["epoch"]
        assert ours["total"]["mean"] == pytest.approx(theirs["total"]["mean"], rel=TOLERANCE)
    assert trainer_processes(parallel.run_dir) == []


def test_a_users_own_torchrun_makes_one_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
         "-m", "dmt_tui.trainer", "train", "xor-sgd", "--runs-dir", str(tmp_path), "--quiet",
         "--set", "train.epochs=2", *SMALL], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    (record,) = load_runs(tmp_path)
    assert record.state == "finished" and record.start["world_size"] == 2


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    errors = open(tmp_path.parent / f"{tmp_path.name}.stderr", "wb")  # noqa: SIM115
    launcher = subprocess.Popen(
        [sys.executable, "-m", "dmt_tui.cli", "train", "xor-adam", "--runs-dir", str(tmp_path),
         "--quiet", "--nproc", "2", *SMALL, *FOREVER],
        stdout=subprocess.DEVNULL, stderr=errors)
    errors.close()
    wait_until(lambda: any(len(r.epochs) >= 2 for r in load_runs(tmp_path)))
    (record,) = load_runs(tmp_path)
    return launcher, record.run_dir


def test_sigterm_to_the_launcher_stops_every_rank(tmp_path: Path) -> None:
    launcher, run_dir = _start(tmp_path)
    try:
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(90) == 4  # the exit code of `stopped`
    finally:
        launcher.kill()
    record = RunRecord.load(run_dir)
    assert record.state == "stopped" and "SIGTERM" in record.end["reason"]
    wait_until(lambda: trainer_processes(run_dir) == [], timeout=30)
    assert "Traceback" not in (tmp_path.parent / f"{tmp_path.name}.stderr").read_text()


def test_a_killed_rank_fails_the_run_and_leaves_no_process(tmp_path: Path) -> None:
    launcher, run_dir = _start(tmp_path)
    try:
        rank1 = RunRecord.load(run_dir).start["ranks"][1]["pid"]
        subprocess.run(["kill", "-9", str(rank1)], check=True)
        assert launcher.wait(90) == 1
    finally:
        launcher.kill()
    record = RunRecord.load(run_dir)
    assert record.state == "failed"
    assert f"rank 1 (pid {rank1}) died" in record.end["reason"]
    assert len(record.epochs) >= 2  # what was trained is kept
    wait_until(lambda: trainer_processes(run_dir) == [], timeout=30)
    table = run_cli("runs", "--runs-dir", str(tmp_path))
    assert "failed" in table.stdout


def test_nproc_must_be_a_positive_whole_number() -> None:
    done = run_cli("train", "xor-adam", "--nproc", "zero")
    assert done.returncode == 2
    assert "--nproc: expected a whole number from 1 to" in done.stderr
    assert "Traceback" not in done.stderr



async def test_the_app_shows_a_data_parallel_run_like_any_other(tmp_path: Path) -> None:
    from dmt_tui.app.app import DmtApp
    from tests.tui.conftest import wait_for_text

    done = run_cli("train", "xor-adam", "--runs-dir", str(tmp_path), "--quiet", "--nproc", "2",
                   "--set", "train.epochs=3", *SMALL, timeout=180)
    assert done.returncode == 0, done.stderr
    app = DmtApp(tmp_path, None)
    async with app.run_test(size=(120, 36)) as pilot:
        # the gradient panel draws rank 0's norms (fc1), maybe a refresh after the rest
        await wait_for_text(pilot, "finished", "3/3", "completed all 3 epochs", "fc1")
