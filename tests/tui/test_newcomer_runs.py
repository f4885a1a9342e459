"""The runs list and panels as a newcomer met them (issue 17), on copies of the recorded
finished run: setups told apart, names and notes, summaries from the `end` event, the
layout at 120x36 and 80x24, filters both ways, export that names its runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dmt_tui.app.app import DmtApp
from dmt_tui.app.confirm import ExportDialog, RunNoteDialog
from dmt_tui.app.progress_panel import progress_lines
from dmt_tui.app.runs_list import RunsList
from dmt_tui.rundir.meta import read_meta
from dmt_tui.rundir.record import RunRecord
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN, screen_text, wait_for, wait_for_text


def copies(folder: Path, count: int, edit: dict[str, str] | None = None) -> list[str]:
    """`count` copies of the recorded run under new ids (the config edited by `edit`)."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        run_id = f"20261126-15{i:02d}00-deep-sigmoid-vanishing"
        shutil.copytree(DATA_RUNS / RECORDED_RUN, folder / run_id)
        config = folder / run_id / "config.yaml"
        text = config.read_text("utf-8")
        for old, new in (edit or {}).items():
            text = text.replace(old, new)
        config.write_text(text, "utf-8")
        ids.append(run_id)
    return ids


def line_with(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


async def test_the_empty_screen_says_what_to_press(tmp_path: Path) -> None:
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "No runs yet. Press n to start one, g for an experiment, "
                            "? keys", "q Quit", "? Keys")


async def test_setups_tell_runs_of_one_preset_apart(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    [relu] = copies(runs, 1, {"activation: sigmoid": "activation: relu"})
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        text = await wait_for_text(pilot, relu, "Setup")
        assert "relu sgd lr 0.1" in line_with(text, relu)


async def test_at_80x24_the_loss_the_selected_row_and_the_footer_fit(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ids = copies(runs, 9)
    app = DmtApp(runs)
    async with app.run_test(size=(80, 24)) as pilot:
        newest = ids[-1].partition("-")[2]  # narrow: the id without its date
        text = await wait_for_text(pilot, newest, "0.6938 @12", "? Keys")
        assert app.screen.query_one(RunsList).selected_run == ids[-1]
        assert "0.6938 @12" in line_with(text, newest)  # the whole loss, on the selected row
        footer = text.splitlines()[-1]
        assert "q Quit" in footer and "? Keys" in footer


async def test_the_run_panel_keeps_its_lines_with_six_runs_at_120x36(tmp_path: Path) -> None:
    copies(tmp_path / "runs", 7)
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "mlp 8 × 32 sigmoid  sgd lr 0.1", "batch 32  seed 0",
                            "epoch 25/25")


async def test_a_status_without_summary_fields_reads_the_end_event(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    old, bare = copies(runs, 2)
    status = json.loads((runs / bare / "status.json").read_text("utf-8"))
    for key in ("epoch", "epochs", "best_epoch", "best_val_loss"):
        status.pop(key)
    (runs / bare / "status.json").write_text(json.dumps(status), "utf-8")
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, old, bare)  # both rows listed before the cursor moves
        await pilot.press("up")  # the other run: `bare` is never looked at
        await wait_for(pilot, lambda: app.screen.query_one(RunsList).selected_run == old,
                       "the older run")
        text = await wait_for_text(pilot, bare)
        assert "25/25" in line_with(text, bare) and "0.6938 @12" in line_with(text, bare)
        await pilot.press("down", "up", "down", "up")  # looked at, then its events dropped
        await pilot.pause(1.0)
        text = screen_text(app)
        assert "25/25" in line_with(text, bare) and "0.6938 @12" in line_with(text, bare)


async def test_f_and_shift_f_cycle_the_filter_and_an_empty_one_says_how_back(
        tmp_path: Path) -> None:
    copies(tmp_path / "runs", 1)
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "all states (f)")
        await pilot.press("f")  # live: none
        await wait_for_text(pilot, "none live of 1 runs: f next filter, F the one before")
        await pilot.press("f")
        await wait_for_text(pilot, "finished (f)", "1 of 1 run")
        await pilot.press("F", "F")
        await wait_for_text(pilot, "all states (f)")
        await pilot.press("F")  # backward from all: crashed
        await wait_for_text(pilot, "crashed (f)")


async def test_t_names_a_run_and_notes_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    [run_id] = copies(runs, 1)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, run_id)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, RunNoteDialog), "the dialog")
        await pilot.press(*"sigmoid baseline", "tab", *"lr too high?", "enter")
        text = await wait_for_text(pilot, "sigmoid baseline", "note: lr too high?")
        assert run_id not in line_with(text, "finished")  # the title stands for the id
    assert read_meta(runs / run_id) == {"title": "sigmoid baseline", "note": "lr too high?"}
    from dmt_tui.rundir.export import metrics_table

    table = metrics_table([RunRecord.load(runs / run_id)])
    assert set(table["title"]) == {"sigmoid baseline"} and set(table["note"]) == {"lr too high?"}


async def test_e_names_the_marked_runs_and_asks_for_formats(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    first, second = copies(runs, 2)
    monkeypatch.chdir(tmp_path)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, second)
        await pilot.press("up", "space", "down")  # mark the first, look at the second
        await wait_for_text(pilot, "1 marked")
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog), "the dialog")
        text = await wait_for_text(pilot, "the 1 marked run (not the selected", first)
        assert "csv" in text and "jsonl" in text and "parquet" in text and "tensorboard" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: (tmp_path / "exports" / first / "metrics.csv").exists()
                       and (tmp_path / "exports" / first / f"{first}.events.jsonl").exists(),
                       "the files")
    assert not (tmp_path / "exports" / second).exists()


def test_samples_per_s_is_the_current_rate() -> None:
    """A progress event from an epoch long past is not the rate now: the last epoch's is."""
    record = RunRecord(Path("/nonexistent/20261126-150000-x"))
    record.status = {"state": "running", "updated": 9e18}  # live, heartbeat fresh
    record.start = {"n_train": 1000, "steps_per_epoch": 10}
    record.progress = {"epoch": 29, "step": 5, "steps": 10, "samples_per_s": 123.0}
    record.epochs = [{"epoch": e, "seconds": 0.01} for e in range(1, 813)]
    text = str(progress_lines(record, now=0.0)[1])
    assert "100.0k samples/s" in text and "123 samples/s" not in text
    record.progress = {"epoch": 813, "step": 5, "steps": 10, "samples_per_s": 123.0}
    assert "123 samples/s" in str(progress_lines(record, now=0.0)[1])  # epoch 813 is current
