"""In the comparison view, the seeds of one experiment's configuration are one band: one
colour in the plots, legend and table, their validation loss drawn as the mean over seeds
between ░ min and max, not a line per seed. On a crafted experiment (made_experiment): lr 0.1
with seeds 0 and 1 (losses x1 and x0.9), lr 0.05 with seed 0, and a lone run."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import DataTable

from dmt_tui.app.app import DmtApp
from dmt_tui.app.compare_plots import CompareLossPanel, run_color, run_style
from dmt_tui.app.compare_screen import CompareScreen, legend
from dmt_tui.app.plot import Plot
from dmt_tui.app.runs_list import RunsList
from dmt_tui.app.seed_bands import seed_band
from dmt_tui.rundir.record import RunRecord
from tests.tui.conftest import RECORDED_RUN, wait_for, wait_for_text
from tests.tui.made_experiment import EXPERIMENT, TRIALS, make_experiment

COLOUR = re.compile(r"38;2;(\d+);(\d+);(\d+)")


def plot_colours(ansi: str) -> set[tuple[int, int, int]]:
    """The run colours a plot is drawn in (foreground RGB codes)."""
    return {(int(r), int(g), int(b)) for r, g, b in COLOUR.findall(ansi)}


def test_the_band_is_the_mean_between_min_and_max(tmp_path: Path) -> None:
    make_experiment(tmp_path)
    seeds = [RunRecord.load(tmp_path / run_id) for _, run_id, *_ in TRIALS[:2]]
    mean, low, high = seed_band(seeds, "val_loss")
    first = [e["val_loss"] for e in seeds[0].epochs]
    assert len(mean) == len(first) == 25
    for (_, m), (_, lo), (_, hi), value in zip(mean, low, high, first, strict=True):
        assert lo == value * 0.9 and hi == value  # seed 1 is seed 0 times 0.9
        assert abs(m - value * 0.95) < 1e-12


async def test_seeds_of_one_configuration_compare_as_one_band(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    make_experiment(runs_dir)
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        runs_list = app.screen.query_one(RunsList)
        await wait_for_text(pilot, "▸ lr-sweep", RECORDED_RUN)
        runs_list.select_run(f"experiment:{EXPERIMENT}")
        await pilot.press("space")  # the three trials
        runs_list.select_run(RECORDED_RUN)
        await pilot.press("space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), "the comparison")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert [r.run_id for r in screen.records] == [RECORDED_RUN, *(t[1] for t in TRIALS)]
        await wait_for_text(pilot, "░ min-max over seeds")
        # legend and table: the two seeds of lr 0.1 (runs 2 and 3) share a colour
        styles = [str(line.spans[0].style) for line in legend(screen.records).split("\n")]
        assert styles == [run_style(0), run_style(1), run_style(1), run_style(2)]
        table = screen.query_one("#compare-diff", DataTable)
        headers = [str(column.label.style) for column in table.columns.values()][1:]
        assert headers == [f"bold {run_style(c)}" for c in (0, 1, 1, 2)]
        panel = screen.query_one(CompareLossPanel)
        epochs = tuple(25 for _ in screen.records)  # every run's events read from disk
        await wait_for(pilot, lambda: panel._drawn is not None and panel._drawn[0] == epochs,
                       "the loss plot of every run's 25 epochs")
        ansi = panel.query_one(Plot).plt.build()
        # three colours for four runs: the lone run, lr 0.1 (two seeds), lr 0.05
        assert plot_colours(ansi) >= {run_color(0), run_color(1), run_color(2)}
        assert run_color(3) not in plot_colours(ansi)
        assert "░" in ansi  # the min-max bounds of the band
