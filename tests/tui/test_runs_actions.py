"""The runs list's keys on real runs: marking, filtering, sorting, deleting, comparing and
exporting. Two finished runs come from the real trainer (once for the module); a third,
live one is a status file naming this test process, so nothing keeps training."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from textual.pilot import Pilot

from dmt_tui.app.app import DmtApp
from dmt_tui.app.compare_screen import CompareScreen
from dmt_tui.app.confirm import DeleteConfirm
from dmt_tui.app.monitor import MonitorScreen
from tests.tui.conftest import screen_text, wait_for, wait_for_text

ROOT = Path(__file__).resolve().parents[2]
LIVE_RUN = "20990101-000000-live"  # sorts after the real runs: the newest, selected on open


def train(runs_dir: Path, activation: str) -> Path:
    """One 3-epoch xor run through the real trainer, as `dmt-tui train` would do it."""
    before = set(runs_dir.glob("*"))
    done = subprocess.run(
        [sys.executable, "-m", "dmt_tui.trainer", "train", "xor-adam", "--runs-dir", str(runs_dir),
         "--quiet", "--set", "train.epochs=3", "--set", f"model.activation={activation}",
         "--set", "data.n_samples=400", "--set", "train.threads=1"],
        capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    (made,) = set(runs_dir.glob("*")) - before
    return made


def events(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    """The run's events of one type, read here, apart from the code under test."""
    lines = (run_dir / "events.jsonl").read_text("utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == kind]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with a relu run and a sigmoid run, both finished (made once)."""
    runs_dir = tmp_path_factory.mktemp("trained")
    train(runs_dir, "relu")
    train(runs_dir, "sigmoid")
    return runs_dir


@pytest.fixture
def runs(trained: Path, tmp_path: Path) -> dict[str, Path]:
    """A copy of the trained runs (tests delete from it) plus a live run: by activation."""
    folder = tmp_path / "runs"
    shutil.copytree(trained, folder)
    live = folder / LIVE_RUN
    live.mkdir()
    (live / "status.json").write_text(json.dumps(
        {"state": "running", "pid": os.getpid(), "updated": 4e9}))
    found = {"live": live}
    for run_dir in set(folder.iterdir()) - {live}:
        config = (run_dir / "config.yaml").read_text("utf-8")
        found["relu" if "activation: relu" in config else "sigmoid"] = run_dir
    assert set(found) == {"relu", "sigmoid", "live"}
    return found


def best_val_loss(run_dir: Path) -> float:
    return float(events(run_dir, "end")[0]["best_val_loss"])


def list_rows(app: DmtApp) -> list[str]:
    """The runs list's rows as shown: the lines between its header and its bottom edge."""
    lines = screen_text(app).splitlines()
    header = next(i for i, line in enumerate(lines) if "Best val loss" in line)
    bottom = next(i for i in range(header, len(lines)) if lines[i].startswith("╰"))
    return lines[header + 1:bottom]


def shown_order(app: DmtApp, runs: dict[str, Path]) -> list[str]:
    """Which runs the list shows, top to bottom, by their keys in `runs`."""
    names = {d.name: key for key, d in runs.items()}
    return [names[word] for row in list_rows(app) for word in row.split() if word in names]


async def opened(pilot: Pilot[None], runs: dict[str, Path]) -> None:
    await wait_for_text(pilot, *(d.name for d in runs.values()), "3/3")


async def select(pilot: Pilot[None], app: DmtApp, run_dir: Path) -> None:
    """Move the cursor with the arrow keys to a run's row (the list opens on the newest)."""
    for _ in range(5):
        rows = list_rows(app)
        if app.screen.selected == run_dir.name:
            return
        at = next(i for i, row in enumerate(rows) if run_dir.name in row)
        current = next(i for i, row in enumerate(rows) if app.screen.selected in row)
        await pilot.press("up" if at < current else "down")
        await pilot.pause(0.1)
    assert app.screen.selected == run_dir.name


def row_of(app: DmtApp, run_dir: Path) -> str:
    return next(row for row in list_rows(app) if run_dir.name in row)


async def test_space_marks_and_unmarks_the_selected_run(runs: dict[str, Path]) -> None:
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot, runs)
        await select(pilot, app, runs["relu"])
        await pilot.press("space")
        await wait_for_text(pilot, "3 runs, 1 training, 1 marked")
        assert "●" in row_of(app, runs["relu"])
        assert "●" not in row_of(app, runs["sigmoid"])
        await select(pilot, app, runs["sigmoid"])
        await pilot.press("space")
        await wait_for_text(pilot, "2 marked")
        assert "●" in row_of(app, runs["sigmoid"]) and "●" in row_of(app, runs["relu"])
        await pilot.press("space")  # again: unmarked
        await wait_for_text(pilot, "1 marked")
        assert "●" not in row_of(app, runs["sigmoid"])


async def test_f_filters_by_state_and_says_so_in_the_title(runs: dict[str, Path]) -> None:
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot, runs)
        assert "Runs · all states (f)" in screen_text(app)
        await pilot.press("f")
        await wait_for_text(pilot, "Runs · live (f)", "1 of 3 runs")
        assert shown_order(app, runs) == ["live"]
        await pilot.press("f")
        await wait_for_text(pilot, "Runs · finished (f)", "2 of 3 runs")
        assert sorted(shown_order(app, runs)) == ["relu", "sigmoid"]
        await pilot.press("f")
        await wait_for_text(pilot, "Runs · early-stopped (f)", "none early-stopped of 3 runs")
        assert shown_order(app, runs) == []
        for _ in range(5):  # diverged, stopped, failed, crashed, then all again
            await pilot.press("f")
        await wait_for_text(pilot, "Runs · all states (f)", "3 runs, 1 training")
        assert len(shown_order(app, runs)) == 3


async def test_o_sorts_by_best_validation_loss_then_by_start(runs: dict[str, Path]) -> None:
    # A run that started late but did best, so the two orders differ whatever the real
    # runs' losses are.
    best = runs["live"].parent / "20980101-000000-best"
    best.mkdir()
    end = {"state": "finished", "best_epoch": 2, "best_val_loss": 1e-6}
    (best / "events.jsonl").write_text(json.dumps({"type": "end", "time": 1.0, **end}) + "\n")
    (best / "status.json").write_text(json.dumps(end))
    runs = {**runs, "best": best}
    by_start = ["relu", "sigmoid", "best", "live"]  # relu trained first; the fakes are dated
    by_loss = ["best", *sorted(["relu", "sigmoid"], key=lambda k: best_val_loss(runs[k])),
               "live"]  # a run without a best val loss goes last
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36)) as pilot:
        await opened(pilot, runs)
        assert shown_order(app, runs) == by_start
        await pilot.press("o")
        await wait_for_text(pilot, "by best val loss (o)")
        assert shown_order(app, runs) == by_loss
        assert app.screen.selected == LIVE_RUN  # the cursor stays on its run
        await pilot.press("o")
        await wait_for_text(pilot, "by start time (o)")
        assert shown_order(app, runs) == by_start


async def test_d_deletes_an_ended_run_after_asking(runs: dict[str, Path]) -> None:
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await opened(pilot, runs)
        await select(pilot, app, runs["relu"])
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteConfirm), "the question")
        await wait_for_text(pilot, f"Delete {runs['relu'].name}?")  # drawn
        await pilot.press("n")  # keep it
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        assert runs["relu"].is_dir()
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteConfirm), "the question")
        await pilot.press("y")
        await wait_for_text(pilot, f"deleted {runs['relu'].name}", "2 runs, 1 training")
        assert not runs["relu"].exists()
        assert runs["sigmoid"].is_dir()
        assert sorted(shown_order(app, runs)) == ["live", "sigmoid"]
        await pilot.pause(1.2)  # two more polls: the watcher does not bring it back
        assert sorted(shown_order(app, runs)) == ["live", "sigmoid"]


async def test_d_refuses_a_live_run(runs: dict[str, Path]) -> None:
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await opened(pilot, runs)
        assert app.screen.selected == LIVE_RUN
        await pilot.press("d")
        await wait_for_text(pilot, "is running: stop it first")
        assert isinstance(app.screen, MonitorScreen)  # no question asked
        assert runs["live"].is_dir()


async def test_c_compares_the_marked_runs(runs: dict[str, Path]) -> None:
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await opened(pilot, runs)
        await pilot.press("c")  # nothing marked
        await wait_for_text(pilot, "Nothing to compare", "0 marked: mark two or more")
        assert isinstance(app.screen, MonitorScreen)
        for key in ("relu", "sigmoid"):
            await select(pilot, app, runs[key])
            await pilot.press("space")
        await wait_for_text(pilot, "2 marked")
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), "the comparison")
        relu, sigmoid = best_val_loss(runs["relu"]), best_val_loss(runs["sigmoid"])
        assert max(relu, sigmoid) < 1  # so each shows as 0.xxxx
        text = await wait_for_text(pilot, "Comparing 2 runs", "3 epochs", f"{relu:.4f}",
                                   f"{sigmoid:.4f}", "Loss", "Grad norm by depth (last epoch)")
        lines = text.splitlines()
        # The legend names both runs (oldest first, so relu is 1), each with its colour.
        assert any("━━ 1" in line and runs["relu"].name in line for line in lines)
        assert any("━━ 2" in line and runs["sigmoid"].name in line for line in lines)
        # The table: only what differs (the activation), beside the best losses and epochs.
        activation = next(line for line in lines if "model.activation" in line)
        assert activation.index("relu") < activation.index("sigmoid")
        assert not any("optimizer.name" in line or "train.epochs" in line for line in lines)
        best = next(line for line in lines if "best val loss" in line)
        assert best.index(f"{relu:.4f}") < best.index(f"{sigmoid:.4f}")
        epochs = {k: events(runs[k], "end")[0]["best_epoch"] for k in ("relu", "sigmoid")}
        assert next(line for line in lines if "best epoch" in line).strip("│ ").split()[-2:] == \
            [str(epochs["relu"]), str(epochs["sigmoid"])]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")


async def test_e_exports_the_selected_run_as_csv_and_jsonl(
        runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run_dir = runs["sigmoid"]
    app = DmtApp(run_dir.parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await opened(pilot, runs)
        await select(pilot, app, run_dir)
        await pilot.press("e")
        await wait_for_text(pilot, "space ticks a format")  # the dialog: csv, jsonl ticked
        await pilot.press("enter")
        await wait_for_text(pilot, "Exported 1 run to", "metrics.csv")
    out = tmp_path / "exports" / run_dir.name
    table = pd.read_csv(out / "metrics.csv")
    epochs = events(run_dir, "epoch")
    assert len(table) == len(epochs) == 3  # one row per epoch
    assert list(table["epoch"]) == [e["epoch"] for e in epochs]
    assert list(table["val_loss"]) == pytest.approx([e["val_loss"] for e in epochs])
    assert set(table["run_id"]) == {run_dir.name}
    assert set(table["activation"]) == {"sigmoid"}
    jsonl = (out / f"{run_dir.name}.events.jsonl").read_text().splitlines()
    assert jsonl == [json.dumps(e, separators=(",", ":")) for e in
                     map(json.loads, (run_dir / "events.jsonl").read_text().splitlines())]


async def test_e_exports_the_marked_runs_in_one_table(
        runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await opened(pilot, runs)
        for key in ("relu", "sigmoid"):
            await select(pilot, app, runs[key])
            await pilot.press("space")
        await pilot.press("e")
        await wait_for_text(pilot, "space ticks a format")  # the dialog: csv, jsonl ticked
        await pilot.press("enter")
        await wait_for_text(pilot, "Exported 2 runs to", "metrics.csv")
    (csv,) = (tmp_path / "exports").glob("*-2-runs/metrics.csv")
    table = pd.read_csv(csv)
    assert len(table) == 6
    assert table.groupby("activation")["val_loss"].min().to_dict() == pytest.approx(
        {k: min(e["val_loss"] for e in events(runs[k], "epoch")) for k in ("relu", "sigmoid")})


async def test_an_export_that_cannot_be_written_says_why(
        runs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exports").write_text("a file where the folder would go")
    app = DmtApp(runs["live"].parent)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await opened(pilot, runs)
        await select(pilot, app, runs["relu"])
        await pilot.press("e")
        await wait_for_text(pilot, "space ticks a format")  # the dialog: csv, jsonl ticked
        await pilot.press("enter")
        await wait_for_text(pilot, "Export failed", "cannot write the export")
        assert app.is_running and isinstance(app.screen, MonitorScreen)
