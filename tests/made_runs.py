"""Real runs for the `runs` and `export` tests, made once per session by the real trainer.

Each run costs a trainer start (seconds, mostly importing torch) on a small shared machine,
so both test modules share these folders instead of training their own."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli

# Three runs that differ where a comparison would: activation, optimizer, task.
RUNS = (
    ("xor-adam", "model.activation=relu", "train.epochs=3"),
    ("xor-sgd", "model.activation=sigmoid", "train.epochs=3"),
    ("plane-regression", "train.epochs=2"),  # regression: no accuracy, no hidden layers
)
SMALL = ("data.n_samples=400",)

_made: dict[str, Path] = {}


def read_events(run_dir: Path) -> list[dict]:
    """The run's complete events, read here independently of the code under test."""
    path = run_dir / "events.jsonl"
    if not path.exists():  # the trainer has not started writing yet
        return []
    lines = path.read_text("utf-8").split("\n")[:-1]  # the last piece is "" or a torn line
    return [json.loads(line) for line in lines if line.strip()]


def of_type(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in read_events(run_dir) if e["type"] == kind]


def finished_runs(factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding the three RUNS, all finished."""
    if "finished" not in _made:
        runs_dir = factory.mktemp("runs")
        for preset, *overrides in RUNS:
            sets = [arg for kv in (*SMALL, *overrides) for arg in ("--set", kv)]
            done = run_cli("train", preset, *sets, "--runs-dir", str(runs_dir), "--quiet")
            assert done.returncode == 0, done.stderr
        _made["finished"] = runs_dir
    return _made["finished"]


@pytest.fixture(scope="module")
def finished_runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A module's fixture (`runs_dir = made_runs.finished_runs_dir`): the finished runs."""
    return finished_runs(tmp_path_factory)


@pytest.fixture(scope="module")
def finished_run_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A module's fixture: each finished run's folder, oldest first."""
    return sorted(d for d in finished_runs(tmp_path_factory).iterdir() if d.is_dir())


def crashed_runs(factory: pytest.TempPathFactory) -> Path:
    """A runs folder holding one run killed with SIGKILL after at least two epochs, so its
    status.json still says running and names a dead pid."""
    if "crashed" not in _made:
        runs_dir = factory.mktemp("crashed")
        trainer = subprocess.Popen(
            [sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam",
             "--runs-dir", str(runs_dir),
             "--quiet", "--set", "train.epochs=100000", "--set", "early_stopping.patience=0",
             "--set", "data.n_samples=400"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        epochs = 0
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and trainer.poll() is None and epochs < 2:
                time.sleep(0.05)
                epochs = sum(len(of_type(d, "epoch")) for d in runs_dir.glob("*/"))
            assert trainer.poll() is None, "the trainer ended before it could be killed"
        finally:
            trainer.send_signal(signal.SIGKILL)
            trainer.wait()  # reaped, so its pid is really gone (a zombie would still answer)
        assert epochs >= 2, "the trainer wrote no two epochs in 90 s"
        _made["crashed"] = runs_dir
    return _made["crashed"]
