"""Run folders that change under the app: one deleted from a shell leaves the list (no error
loop), and a run stuck `starting` whose process died shows `crashed` and can be deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.app.runs_list import RunsList
from tests.malformed import DATA_RUN, GOOD_RUN
from tests.tui.conftest import screen_text, wait_for, wait_for_text

COPY = "20261126-160000-copy"
STUCK = "20261126-170000-stuck"


def runs_folder(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copytree(DATA_RUN, runs / GOOD_RUN)
    shutil.copytree(DATA_RUN, runs / COPY)
    return runs


async def test_a_run_folder_deleted_from_a_shell_leaves_the_list(tmp_path: Path) -> None:
    runs = runs_folder(tmp_path)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for_text(pilot, COPY, GOOD_RUN)
        shutil.rmtree(runs / COPY)  # the newest run, selected on open
        await wait_for(pilot, lambda: COPY not in screen_text(app), "the run to leave")
        await pilot.pause(1.5)  # three more polls: nothing comes back, nothing repeats
        assert COPY not in app.screen.query_one(RunsList).records
        errors = [n for n in app._notifications if n.severity == "error"]
        assert not errors, [n.message for n in errors]
        await pilot.press("up", "down")
        await wait_for_text(pilot, GOOD_RUN, "1 run, 0 training")
    assert app.return_code in (0, None)


async def test_a_starting_run_whose_process_died_is_crashed_and_deletable(
        tmp_path: Path) -> None:
    runs = runs_folder(tmp_path)
    stuck = runs / STUCK
    stuck.mkdir()
    rundir.write_status(stuck, state="starting", pid=2**22 + 4321, run_id=STUCK)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "crashed" in next(
            (line for line in screen_text(app).splitlines() if STUCK in line), ""),
            "the stuck run read as crashed")
        assert app.screen.query_one(RunsList).selected_run == STUCK  # the newest
        await pilot.press("d")
        await wait_for(pilot, lambda: len(app.screen_stack) == 2, "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: not stuck.exists() and STUCK not in screen_text(app),
                       "the stuck run deleted")
        assert (runs / GOOD_RUN).is_dir() and (runs / COPY).is_dir()
    assert app.return_code in (0, None)
