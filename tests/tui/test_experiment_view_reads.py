"""The experiment view of a large experiment: header and leaderboard at once, from the
manifest and status.json; the plots once a thread has read every trial's events; closing
the view while that thread reads leaves the app running (issue 15's 200-run budget)."""

from __future__ import annotations

import sys
from pathlib import Path

from dmt_tui.app.app import DmtApp
from dmt_tui.app.experiment_view import ExperimentScreen
from tests.tui.conftest import screen_text, wait_for, wait_for_text

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from app_experiment import write_experiment  # noqa: E402 - the benchmark's own experiment


async def test_the_view_of_forty_trials_draws_then_reads_their_runs(tmp_path: Path) -> None:
    write_experiment(tmp_path, configurations=4, seeds=10, epochs=30)
    app = DmtApp(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "40 runs")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), "the view")
        await wait_for_text(pilot, "40/40 ended", "━ optimizer.lr=0.0001")
        await wait_for(pilot, lambda: "●" in screen_text(app)
                       and "reading the trials' runs" not in screen_text(app), "the plots")
        screen = app.screen
        assert isinstance(screen, ExperimentScreen) and len(screen.records) == 40
        assert all(len(r.epochs) == 30 for r in screen.records.values())


async def test_closing_the_view_while_it_reads_keeps_the_app(tmp_path: Path) -> None:
    write_experiment(tmp_path, configurations=4, seeds=10, epochs=30)
    app = DmtApp(tmp_path)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "40 runs")
        for _ in range(3):  # in and out faster than the thread reads 40 runs
            await pilot.press("x", "escape")
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen)
                       and "●" in screen_text(app), "the view's plots")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ExperimentScreen), "the list")
        assert app.is_running
