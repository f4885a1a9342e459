"""Nothing is drawn past a plot's frame (issue 16): in the loss panel, with the accuracy on
its right axis, every braille dot, best-epoch mark and point lies inside the box's corners,
in every view the panel's keys give, at 80x24 and 120x36."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widget import Widget

from dmt_tui.app.app import DmtApp
from tests.tui.conftest import compare_runs, screen_text, wait_for

MARKS = {"◆", "•", "●"}


def rows_of(app: DmtApp, plot: Widget) -> list[str]:
    region = plot.region
    return [line[region.x:region.right] for line in
            screen_text(app).splitlines()[region.y:region.bottom]]


def outside_frame(app: DmtApp, plot: Widget) -> list[str]:
    """The plot's drawn cells (braille with dots, marks) left of or right of its frame."""
    rows = rows_of(app, plot)
    top = next(i for i, row in enumerate(rows) if "┌" in row)
    bottom = next(i for i, row in enumerate(rows) if "└" in row)
    left, right = rows[top].index("┌"), rows[top].index("┐")
    found = []
    for y, row in enumerate(rows[top:bottom + 1], start=top):
        for x, char in enumerate(row):
            drawn = "\u2801" <= char <= "\u28ff" or char in MARKS
            if drawn and not left < x < right:
                found.append(f"{char!r} at row {y}, column {x} (frame {left}..{right})")
    return found


def tick_labels(app: DmtApp, plot: Widget) -> list[str]:
    """The x axis's labels: the row under the plot's box, when the box is drawn whole."""
    rows = rows_of(app, plot)
    bottom = next((i for i, row in enumerate(rows) if "└" in row), None)
    if bottom is None or bottom + 1 >= len(rows):
        return []
    return rows[bottom + 1].strip("│ ").split()


async def press_and_redraw(app: DmtApp, pilot: Pilot[Any], key: str) -> None:
    before = screen_text(app)
    await pilot.press(key)
    await wait_for(pilot, lambda: screen_text(app) != before, f"the screen after {key}")


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_loss_plot_stays_inside_its_frame(recorded_runs: Path,
                                                   size: tuple[int, int]) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: "epoch 25:" in screen_text(app), "the run")
        plot = app.screen.query_one("#loss-plot")
        for key, view in [("", "epochs"), ("w", "wall time"), ("a", "smoothed"),
                          ("l", "log y"), ("w", "log y by epoch")]:
            if key:
                await press_and_redraw(app, pilot, key)
            assert "100%" in screen_text(app)  # the accuracy's axis: its line is drawn
            assert outside_frame(app, plot) == [], view


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_comparison_plots_stay_inside_their_frames(tmp_path: Path,
                                                            size: tuple[int, int]) -> None:
    first, second = compare_runs(tmp_path / "runs")
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=size) as pilot:
        shown = [name[9:] for name in (first, second)]  # at 80 columns without the date
        await wait_for(pilot, lambda: all(name in screen_text(app) for name in shown),
                       "both runs")
        await pilot.press("space", "up", "space", "c")
        await wait_for(pilot, lambda: "Comparing 2 runs" in screen_text(app), "the comparison")
        plots = [app.screen.query_one(f"#{name}")
                 for name in ("compare-loss-plot", "compare-depth-plot")]
        await wait_for(pilot, lambda: all("┌" in "".join(rows_of(app, plot)) for plot in plots),
                       "both plots drawn")
        for plot in plots:
            assert outside_frame(app, plot) == [], plot.id


async def test_accuracy_past_the_last_finite_loss_stays_inside(recorded_runs: Path) -> None:
    """A run whose losses stop being finite (a blow-up) while its accuracy goes on: the
    accuracy's epochs, not the losses', reach the right edge."""
    events = next(recorded_runs.iterdir()) / "events.jsonl"
    lines = []
    for line in events.read_text().splitlines():
        event = json.loads(line)
        if event.get("type") == "epoch" and event["epoch"] > 15:
            event.update(train_loss=math.inf, val_loss=math.nan)
        lines.append(json.dumps(event))
    events.write_text("\n".join(lines) + "\n")
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "100%" in screen_text(app), "the accuracy's axis")
        for key in ("", "l", "w"):
            if key:
                await press_and_redraw(app, pilot, key)
            assert outside_frame(app, app.screen.query_one("#loss-plot")) == [], key


async def test_epoch_axes_tick_whole_numbers(recorded_runs: Path) -> None:
    """The loss plot's and the total gradient norm's epoch axes: 5 10 15, never 5.8 10.5
    (at 120x36, where the gradient panel's axis is on screen without scrolling). 20 epochs:
    evenly spaced ticks over 1..20 fall between whole numbers."""
    events = next(recorded_runs.iterdir()) / "events.jsonl"
    kept = [line for line in events.read_text().splitlines()
            if json.loads(line).get("epoch", 0) <= 20 or json.loads(line)["type"] == "end"]
    events.write_text("\n".join(kept) + "\n")
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "epoch 20:" in screen_text(app), "the run")
        for plot_id in ("loss-plot", "grad-total"):
            plot = app.screen.query_one(f"#{plot_id}")
            await wait_for(pilot, lambda p=plot: bool(tick_labels(app, p)), plot_id)
            labels = tick_labels(app, plot)
            assert all(label.isdigit() for label in labels), (plot_id, labels)
