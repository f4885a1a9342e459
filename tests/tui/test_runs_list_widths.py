"""A row drawn before the runs list measures its columns is drawn again once they are
measured. Textual's DataTable measures new rows on idle and keeps drawn lines under keys that
the new widths leave valid; in a list of fixed size nothing else redraws them, and the
first run stayed cut to the header's widths (`finis  202  3/3`), seen once in CI under load.
Whether a frame is drawn before the measure is up to Textual's timing: the test asserts only
what the user sees, the whole row soon after it is added."""

from __future__ import annotations

import json
import time
from pathlib import Path

from textual.app import App, ComposeResult

from dmt_tui.app.runs_list import RunsList
from dmt_tui.rundir.record import RunRecord

RUN_ID = "20261127-055635-xor-adam"


class ListOnly(App[None]):
    CSS = "RunsList { width: 1fr; height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield RunsList(id="runs")


async def test_a_row_drawn_before_its_columns_are_measured_is_drawn_again(
        tmp_path: Path) -> None:
    run_dir = tmp_path / RUN_ID
    run_dir.mkdir()
    end = {"state": "finished", "best_epoch": 3, "best_val_loss": 0.0139}
    (run_dir / "events.jsonl").write_text(json.dumps({"type": "end", "time": 1.0, **end}))
    (run_dir / "status.json").write_text(json.dumps(end))
    app = ListOnly()
    async with app.run_test(size=(100, 10)) as pilot:
        runs = app.query_one(RunsList)
        runs.show_runs([RunRecord.load(run_dir)])  # drawn at once, measured on idle
        whole = ("finished", RUN_ID, "0.0139 @3")
        deadline = time.monotonic() + 30
        while not all(text in runs.render_line(1).text for text in whole):
            assert time.monotonic() < deadline, \
                f"the row stayed cut: {runs.render_line(1).text!r}"
            await pilot.pause(0.05)
        await pilot.pause(0.5)  # and it stays whole
        assert all(text in runs.render_line(1).text for text in whole)
