"""Issue 17 with a trainer running: at 80x24 a launched run's row stays in view among many,
and the panels never lag the list (they are drawn in the same step as its row)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from dmt_tui.app.app import DmtApp
from dmt_tui.app.loss_panel import LossPanel
from dmt_tui.app.runs_list import RunsList
from tests.tui.conftest import screen_text, wait_for
from tests.tui.test_launch_and_watch import launch_tiny
from tests.tui.test_newcomer_runs import copies


async def test_a_launched_run_stays_in_view_and_the_panels_keep_up_with_the_list(
        presets_dir: Path, runs_dir: Path, trainers: list[subprocess.Popen[bytes]]) -> None:
    copies(runs_dir, 9)  # more finished runs than the list shows at 80x24
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "150800-deep-sigmoid" in screen_text(app), "the runs")
        run_dir = await launch_tiny(app, pilot, "100000")
        runs = app.screen.query_one(RunsList)
        short = run_dir.name.partition("-")[2]  # narrow: the id without its date
        await wait_for(pilot, lambda: runs.selected_run == run_dir.name
                       and short in screen_text(app), "the new run selected and in view")
        loss = app.screen.query_one(LossPanel)
        seen: set[str] = set()
        while len(seen) < 5:  # five different epochs, each as soon as the list showed it
            await pilot.pause(0.05)
            cells = runs._rows.get(run_dir.name)
            listed = re.match(r"(\d+)/", str(cells[3])) if cells else None
            if listed is None or listed.group(1) == "0":
                continue
            drawn = re.match(r"epoch (\d+):", str(loss.border_subtitle or ""))
            assert drawn is not None and drawn.group(1) == listed.group(1), \
                (str(cells[3]) if cells else "", loss.border_subtitle)
            seen.add(listed.group(1))
        row = next(line for line in screen_text(app).splitlines() if short in line)
        assert "running" in row
