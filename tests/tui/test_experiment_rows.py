"""An experiment in the runs list is one row (its name, `3/4 done`, its best loss) that
`enter` opens to its trials and closes again; a lone run beside it lists as before, and
filters, sort, marks and `x` still work on it. On a crafted experiment (made_experiment)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dmt_tui.app.app import DmtApp
from dmt_tui.app.experiment_view import ExperimentScreen, StopExperimentConfirm
from dmt_tui.app.monitor import MonitorScreen
from dmt_tui.app.runs_list import RunsList
from dmt_tui.rundir import manifest as manifests
from tests.tui.conftest import RECORDED_RUN, screen_text, wait_for, wait_for_text
from tests.tui.made_experiment import EXPERIMENT, TRIALS, make_experiment

BEST = TRIALS[2][1]  # lr 0.05 seed 0: half the recorded losses
TRIAL_NAMES = [run_id.partition("-")[2] for _, run_id, *_ in TRIALS]  # as listed, no date


def notified(app: DmtApp, text: str) -> bool:
    return any(text in " ".join(n.message.split()) for n in app._notifications)


def row_of(text: str, needle: str) -> str:
    return next(line for line in text.splitlines() if needle in line)


async def test_an_experiment_is_one_row_that_opens_to_its_trials(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    make_experiment(runs_dir)
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        runs_list = app.screen.query_one(RunsList)
        # closed at first: one row for the three trials, with its progress and best loss
        text = await wait_for_text(pilot, "▸ lr-sweep", RECORDED_RUN)
        row = row_of(text, "▸ lr-sweep")
        assert "3/4 done" in row and "0.3469" in row and "best lr=0.05 seed 0" in row
        assert "ended" in row
        assert not any(name in text for name in TRIAL_NAMES)
        assert runs_list.row_count == 2
        # opened on the newest run, a trial: its experiment's row, the panels on its best
        assert runs_list.selected_experiment == EXPERIMENT
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen)
                       and app.screen.selected == BEST, "the best trial in the panels")

        await pilot.press("enter")
        text = await wait_for_text(pilot, "▾ lr-sweep", *TRIAL_NAMES)
        lines = text.splitlines()
        top = lines.index(row_of(text, "▾ lr-sweep"))
        assert all(name in "\n".join(lines[top + 1:top + 4]) for name in TRIAL_NAMES)
        assert runs_list.row_count == 5 and RECORDED_RUN in text

        await pilot.press("down", "down")  # onto a trial: the panels show that trial
        assert runs_list.selected_experiment is None
        chosen = runs_list.selected_run
        assert chosen in {run_id for _, run_id, *_ in TRIALS}
        await wait_for(pilot, lambda: app.screen.selected == chosen, "the trial's panels")
        await pilot.press("enter")  # on a trial: closes its experiment, back on its row
        await wait_for(pilot, lambda: "▸ lr-sweep" in screen_text(app), "closed again")
        assert not any(name in screen_text(app) for name in TRIAL_NAMES)
        assert runs_list.row_count == 2 and runs_list.selected_experiment == EXPERIMENT


async def test_filter_sort_marks_and_x_work_on_an_experiment_row(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    make_experiment(runs_dir)
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        runs_list = app.screen.query_one(RunsList)
        await wait_for_text(pilot, "▸ lr-sweep", RECORDED_RUN)
        key = f"experiment:{EXPERIMENT}"
        assert runs_list.shown_runs == [RECORDED_RUN, key]  # by start time
        await pilot.press("o")  # by best loss: the experiment's best beats the lone run
        await wait_for(pilot, lambda: runs_list.shown_runs == [key, RECORDED_RUN], "sorted")
        await pilot.press("f")  # live: nothing trains
        await wait_for_text(pilot, "none live of 4 runs")
        assert runs_list.row_count == 0
        await pilot.press("f")  # finished: every trial and the lone run
        await wait_for(pilot, lambda: runs_list.shown_runs == [key, RECORDED_RUN],
                       "the finished runs")
        assert "3/4 done" in row_of(screen_text(app), "▸ lr-sweep")
        runs_list.select_run(key)
        await pilot.press("space")  # marks every trial of the experiment
        assert runs_list.marked == {run_id for _, run_id, *_ in TRIALS}
        await pilot.press("space")
        assert runs_list.marked == set()
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), "the view")
        assert isinstance(app.screen, ExperimentScreen)
        assert app.screen.experiment_id == EXPERIMENT


async def test_s_on_the_row_stops_the_experiment_and_d_t_ask_for_a_trial(
        tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    make_experiment(runs_dir)  # interrupted: its scheduler is gone, one trial still queued
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        runs_list = app.screen.query_one(RunsList)
        await wait_for_text(pilot, "▸ lr-sweep", "3/4 done")
        assert runs_list.selected_experiment == EXPERIMENT
        await pilot.press("d")
        await wait_for(pilot, lambda: notified(app, "pick the trial to delete"), "the warning")
        await pilot.press("t")
        await wait_for(pilot, lambda: notified(app, "pick the trial to name"), "the warning")
        assert isinstance(app.screen, MonitorScreen)
        assert all((runs_dir / run_id).is_dir() for _, run_id, *_ in TRIALS)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StopExperimentConfirm), "asking")
        await pilot.press("y")
        await wait_for(pilot, lambda: notified(app, f"stopped {EXPERIMENT}"), "stopped")
        text = await wait_for_text(pilot, "4/4 done")
        assert "4/4 done" in row_of(text, "▸ lr-sweep")
        manifest = manifests.find(runs_dir, EXPERIMENT)
        assert manifest is not None
        assert [t["state"] for t in manifest["trials"]] == [*["finished"] * 3, "cancelled"]
        await pilot.press("s")  # ended now: nothing to ask
        await wait_for(pilot, lambda: notified(app, f"{EXPERIMENT} is not running (stopped)"),
                       "the warning")
        assert isinstance(app.screen, MonitorScreen)


async def test_the_row_counts_a_trial_as_it_ends(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    make_experiment(runs_dir)
    # the best trial still training: no end event yet, a status a live trainer writes
    run_dir = runs_dir / BEST
    lines = (run_dir / "events.jsonl").read_text("utf-8").splitlines(keepends=True)
    end_line = lines.pop()
    assert json.loads(end_line)["type"] == "end"
    (run_dir / "events.jsonl").write_text("".join(lines), "utf-8")
    finished = json.loads((run_dir / "status.json").read_text("utf-8"))
    (run_dir / "status.json").write_text(json.dumps(
        {**finished, "state": "running", "pid": os.getpid(), "updated": time.time()}), "utf-8")
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        text = await wait_for_text(pilot, "▸ lr-sweep", "2/4 done")
        assert "1 running" in row_of(text, "▸ lr-sweep")
        with (run_dir / "events.jsonl").open("a", encoding="utf-8") as events:
            events.write(end_line)
        (run_dir / "status.json").write_text(json.dumps(finished), "utf-8")
        text = await wait_for_text(pilot, "3/4 done")
        assert "ended" in row_of(text, "▸ lr-sweep")
