"""Readers at the edges of the run-directory contract: run ids that are not run folders,
exports aimed into a run folder, an all-zero gradient histogram in TensorBoard, a run
folder with nothing but an empty events.jsonl, a `starting` run whose process died."""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.rundir.record import RunRecord, load_runs
from tests.conftest import run_cli as cli
from tests.malformed import DATA_RUN, GOOD_RUN


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copytree(DATA_RUN, folder / GOOD_RUN)
    return folder


@pytest.mark.parametrize("run_id", [".", "..", "../runs", "/etc", ".hidden", "a/b", ""])
def test_find_run_refuses_what_is_not_a_run_folder_name(runs: Path, run_id: str) -> None:
    assert rundir.find_run(runs, run_id) is None
    (runs / ".hidden").mkdir(exist_ok=True)
    assert rundir.find_run(runs, run_id) is None
    assert rundir.find_run(runs, GOOD_RUN[:12]) == runs / GOOD_RUN


@pytest.mark.parametrize("run_id", [".", ".."])
def test_export_of_dot_or_dotdot_is_refused_in_one_line(runs: Path, tmp_path: Path,
                                                        run_id: str) -> None:
    done = cli("export", run_id, "--runs-dir", str(runs), "-o", str(tmp_path / "out"))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"dmt-tui: error: {run_id!r} is not a run id")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("inside", ["", "sub/deeper"])
def test_export_into_a_run_folder_is_refused_in_one_line(runs: Path, inside: str) -> None:
    target = runs / GOOD_RUN / inside
    before = sorted(p.name for p in (runs / GOOD_RUN).iterdir())
    done = cli("export", "--all", "--format", "csv,jsonl,tensorboard", "--runs-dir",
               str(runs), "-o", str(target))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "inside the run folder" in line and str(runs / GOOD_RUN) in line
    assert sorted(p.name for p in (runs / GOOD_RUN).iterdir()) == before


def test_an_all_zero_histogram_keeps_max_zero_in_tensorboard(runs: Path,
                                                             tmp_path: Path) -> None:
    """binary-step's hidden layers get no gradient: min = max = 0, every step in `zeros`,
    and the edges are placeholders (1e-12..1e-11) that are no norm of the run."""
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = runs / GOOD_RUN / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    zero = {"name": "fc1", "mean": 0.0, "min": 0.0, "max": 0.0, "counts": [0] * 24,
            "edges": [1e-12 * 10 ** (i / 24) for i in range(25)], "zeros": 10,
            "nonfinite": 0}
    for event in events:
        if event["type"] == "grad":
            event["layers"][0] = zero
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    done = cli("export", GOOD_RUN, "--format", "tensorboard", "--runs-dir", str(runs), "-o",
               str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    reader = EventAccumulator(str(tmp_path / "out" / "tensorboard" / GOOD_RUN),
                              size_guidance={"histograms": 0})
    reader.Reload()
    histograms = reader.Histograms("grad_norm/fc1")
    assert len(histograms) == 25
    for histogram in histograms:
        value = histogram.histogram_value
        assert (value.min, value.max, value.num) == (0.0, 0.0, 10.0)
        assert value.bucket == [10.0] + [0.0] * 24


def test_an_empty_events_file_alone_reads_crashed_once_stale(runs: Path) -> None:
    """A folder with an empty events.jsonl and no status.json (a trainer killed before its
    first write) is training only while its files are fresh."""
    lonely = runs / "20261126-170000-lonely"
    lonely.mkdir()
    (lonely / "events.jsonl").write_bytes(b"")
    assert RunRecord.load(lonely).state == "starting"
    old = time.time() - rundir.STALE_AFTER_S - 5
    os.utime(lonely / "events.jsonl", (old, old))
    os.utime(lonely, (old, old))
    records = {r.run_id: r for r in load_runs(runs)}
    assert records[lonely.name].state == "crashed"
    assert records[GOOD_RUN].state == "finished"
    done = cli("runs", "--runs-dir", str(runs), "--json")
    states = {row["id"]: row["state"] for row in map(json.loads, done.stdout.splitlines())}
    assert states == {GOOD_RUN: "finished", lonely.name: "crashed"}


def test_a_starting_run_whose_process_died_reads_crashed(runs: Path) -> None:
    stuck = runs / "20261126-170100-stuck"
    stuck.mkdir()
    dead = 2**22 + 4321  # above the default pid_max: no such process
    rundir.write_status(stuck, state="starting", pid=dead, run_id=stuck.name)
    assert json.loads((stuck / "status.json").read_text())["host"] == socket.gethostname()
    assert RunRecord.load(stuck).state == "crashed"
    assert not rundir.trainer_alive(rundir.read_status(stuck))


def test_an_alias_bomb_in_a_runs_config_is_refused_with_a_note(tmp_path: Path) -> None:
    """A 1 KB config.yaml whose aliases expand to a billion values: read at once, as empty,
    with a note naming the file (the app, `runs` and `export` all read it this way)."""
    from dmt_tui.rundir.fields import read_config

    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]")
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config, note = read_config(path)
    assert config == {}
    assert note is not None and str(path) in note and "refused" in note
