"""`dmt-tui runs`: the table and `--json`, checked against the runs' own events."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests import made_runs
from tests.conftest import run_cli
from tests.made_runs import crashed_runs, of_type

pytestmark = pytest.mark.slow  # the module's runs come from real trainer processes

HEADER = ["ID", "PRESET", "ACTIVATION", "OPTIMIZER", "LR", "STATE", "EPOCHS", "BEST_VAL_LOSS",
          "STARTED", "DURATION"]


# The three finished runs, shared with the other module (tests/made_runs.py).
runs_dir = made_runs.finished_runs_dir
run_dirs = made_runs.finished_run_dirs


@pytest.fixture
def crashed_copy(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A copy of the killed run that a test may change; returns its run folder."""
    source = next(crashed_runs(tmp_path_factory).iterdir())
    return Path(shutil.copytree(source, tmp_path / "runs" / source.name))


def table(stdout: str) -> list[dict[str, str]]:
    """The printed table as dicts, cut at the header's column starts (cells hold spaces)."""
    header, *lines = stdout.splitlines()
    starts = [header.index(name) for name in HEADER]
    assert header.split() == HEADER
    ends = [*starts[1:], None]
    return [{name: line[a:b].strip() for name, a, b in zip(HEADER, starts, ends, strict=True)}
            for line in lines]


def runs(*args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    done = run_cli("runs", *args, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout, done.stderr


def test_the_table_shows_each_run_with_its_settings_and_result(runs_dir: Path,
                                                               run_dirs: list[Path]) -> None:
    rows = table(runs("--runs-dir", str(runs_dir))[0])
    assert [row["ID"] for row in rows] == [d.name for d in run_dirs]  # oldest first
    expected = {"xor-adam": ("relu", "adam", "0.02", "3/3"),
                "xor-sgd": ("sigmoid", "sgd", "0.02", "3/3"),
                "plane-regression": ("-", "sgd", "0.05", "2/2")}  # a linear model: no activation
    for row, run_dir in zip(rows, run_dirs, strict=True):
        start, end = of_type(run_dir, "start")[0], of_type(run_dir, "end")[0]
        activation, optimizer, lr, epochs = expected[start["preset"]]
        assert row["PRESET"] == start["preset"]
        assert (row["ACTIVATION"], row["OPTIMIZER"], row["LR"]) == (activation, optimizer, lr)
        assert (row["STATE"], row["EPOCHS"]) == ("finished", epochs)
        assert row["BEST_VAL_LOSS"] == f"{end['best_val_loss']:.4g} @{end['best_epoch']}"
        assert row["STARTED"] == time.strftime("%Y-%m-%d %H:%M", time.localtime(start["time"]))
        assert row["DURATION"] == f"{end['time'] - start['time']:.0f}s"


def test_json_has_one_object_per_run_with_the_numbers_unrounded(runs_dir: Path,
                                                                run_dirs: list[Path]) -> None:
    stdout, _ = runs("--runs-dir", str(runs_dir), "--json")
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [row["id"] for row in rows] == [d.name for d in run_dirs]
    for row, run_dir in zip(rows, run_dirs, strict=True):
        start, end = of_type(run_dir, "start")[0], of_type(run_dir, "end")[0]
        assert set(row) >= {"id", "preset", "activation", "optimizer", "lr", "state", "epoch",
                            "epochs", "best_epoch", "best_val_loss", "started", "duration"}
        assert row["state"] == end["state"] == "finished"
        assert row["epoch"] == row["epochs"] == len(of_type(run_dir, "epoch"))
        assert (row["best_epoch"], row["best_val_loss"]) == (end["best_epoch"],
                                                             end["best_val_loss"])
        assert row["started"] == start["time"]
        assert row["duration"] == pytest.approx(end["time"] - start["time"], abs=0.01)
    assert rows[2]["activation"] is None  # plane-regression has no hidden layers


def test_the_runs_folder_comes_from_the_flag_or_the_environment(runs_dir: Path,
                                                               run_dirs: list[Path]) -> None:
    by_env = table(runs(env={"DMT_RUNS_DIR": str(runs_dir)})[0])
    before_command = table(run_cli("--runs-dir", str(runs_dir), "runs").stdout)
    assert [r["ID"] for r in by_env] == [r["ID"] for r in before_command] == \
        [d.name for d in run_dirs]


def test_an_empty_or_missing_folder_says_so(tmp_path: Path) -> None:
    assert runs("--runs-dir", str(tmp_path))[0] == f"no runs in {tmp_path}\n"
    assert runs("--runs-dir", str(tmp_path / "typo"))[0] == \
        f"no runs in {tmp_path / 'typo'} (no such folder)\n"
    assert runs("--runs-dir", str(tmp_path), "--json")[0] == ""


def test_a_killed_trainer_shows_as_crashed_with_its_epochs(crashed_copy: Path) -> None:
    assert json.loads((crashed_copy / "status.json").read_text())["state"] == "running"
    epochs = of_type(crashed_copy, "epoch")
    row = table(runs("--runs-dir", str(crashed_copy.parent))[0])[0]
    assert row["STATE"] == "crashed"
    assert row["EPOCHS"] == f"{len(epochs)}/100000"
    best = epochs[-1]
    assert row["BEST_VAL_LOSS"] == f"{best['es_best']:.4g} @{best['es_best_epoch']}"
    [as_json] = runs("--runs-dir", str(crashed_copy.parent), "--json")[0].splitlines()
    assert json.loads(as_json)["state"] == "crashed"


def test_a_live_trainer_shows_running_until_its_heartbeat_goes_stale(crashed_copy: Path) -> None:
    status_path = crashed_copy / "status.json"
    status = json.loads(status_path.read_text())
    # This test's own process stands in for a trainer that is still alive.
    status.update(pid=os.getpid(), updated=time.time())
    status_path.write_text(json.dumps(status))
    assert table(runs("--runs-dir", str(crashed_copy.parent))[0])[0]["STATE"] == "running"
    status["updated"] = time.time() - 300  # alive, but silent for five minutes: paused?
    status_path.write_text(json.dumps(status))
    assert table(runs("--runs-dir", str(crashed_copy.parent))[0])[0]["STATE"] == "not-responding"
    status["host"] = "another-host"  # its process cannot be asked: taken for crashed
    status_path.write_text(json.dumps(status))
    assert table(runs("--runs-dir", str(crashed_copy.parent))[0])[0]["STATE"] == "crashed"


def test_a_torn_last_line_is_noted_on_stderr_and_json_stays_clean(crashed_copy: Path) -> None:
    with open(crashed_copy / "events.jsonl", "a", encoding="utf-8") as f:
        f.write('{"type":"epoch","time":1.0,"epoch":999,"train_lo')  # killed mid-line
    stdout, stderr = runs("--runs-dir", str(crashed_copy.parent), "--json")
    [line] = stdout.splitlines()
    assert json.loads(line)["epoch"] == len(of_type(crashed_copy, "epoch"))
    assert "torn last line" in stderr and "events.jsonl" in stderr
    stdout, stderr = runs("--runs-dir", str(crashed_copy.parent))
    assert "torn last line" in stderr and "torn" not in stdout
