"""The gradient panel keeps its rows under a full runs list: at 120x36 with eight runs the
list takes nine lines, and the panel's last line (the layer note) and its bottom border were
below the fold; the top row now gives up the rows, and with one run it keeps its share."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmt_tui.app.app import DmtApp
from tests.tui.conftest import screen_text, wait_for, wait_for_text, wait_steady
from tests.tui.test_newcomer_runs import copies

NOTE = "[ ] layer fc1 (1/9)"


def rows_of(text: str, title: str) -> int:
    """The lines a panel takes on screen, from its title's line to its bottom border."""
    lines = text.splitlines()
    top = next(i for i, line in enumerate(lines) if f"─ {title} " in line)
    column = lines[top].index(f"─ {title} ") - 1
    bottom = next(i for i in range(top + 1, len(lines))
                  if lines[i][column:column + 1] == "╰")
    return bottom - top + 1


@pytest.mark.parametrize("runs, loss_rows", [(8, 14), (1, 16)])
async def test_the_gradient_panel_is_whole_under_the_runs_list(
        tmp_path: Path, runs: int, loss_rows: int) -> None:
    copies(tmp_path / "runs", runs)
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        # every run in the list first: the layout follows the list's rows as they come
        await wait_for_text(pilot, NOTE, "epoch 25: train",
                            f"{runs} run{'s' if runs > 1 else ''}, 0 training")

        def laid_out() -> bool:
            try:
                text = screen_text(app)
                return rows_of(text, "Gradient norms") >= 12 and \
                    rows_of(text, "Loss") == loss_rows
            except StopIteration:  # a panel's bottom border below the fold
                return False

        await wait_for(pilot, laid_out, f"the gradient panel whole, the loss {loss_rows} rows")
        await wait_steady(pilot)  # and it stays so
        text = screen_text(app)
        assert rows_of(text, "Gradient norms") >= 12
        assert rows_of(text, "Loss") == loss_rows
        assert text.splitlines()[-2].startswith("╰")  # the panel's border above the keys
