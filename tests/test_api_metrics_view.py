"""`m` in the app: a run's own per-epoch metrics (from dmt_tui.Run) plotted one at a time,
`]` picks the next, `escape` goes back. No trainer runs here: the run is written in-process."""

from __future__ import annotations

from pathlib import Path

import dmt_tui
from dmt_tui.app.app import DmtApp
from dmt_tui.app.compare_screen import CompareScreen
from dmt_tui.app.metrics_panel import MetricsScreen, metric_names
from dmt_tui.app.monitor import MonitorScreen
from tests.tui.conftest import wait_for, wait_for_text


def test_metric_names_put_the_runs_own_first() -> None:
    epochs = [{"type": "epoch", "epoch": 1, "train_loss": 1.0, "lr": 0.1, "seconds": 0.2,
               "sharpness": 3.0, "es_wait": 0, "val_acc": None, "flag": True},
              {"type": "epoch", "epoch": 2, "margin": 0.5, "val_acc": 0.9}]
    assert metric_names(epochs) == ["sharpness", "margin", "lr", "val_acc", "seconds"]


async def test_m_shows_a_scripts_own_metric_and_brackets_pick_another(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    with dmt_tui.Run("own-metrics", runs_dir=runs) as run:
        for epoch in range(1, 6):
            run.epoch(train_loss=1 / epoch, val_loss=1.1 / epoch, sharpness=10.0 * epoch,
                      margin=0.25)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "own-metrics", "finished", "epoch 5: train")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen), "the metrics view")
        await wait_for_text(pilot, "sharpness (1/3)", "epoch 5: sharpness 50")
        screen = app.screen
        assert isinstance(screen, MetricsScreen)  # every epoch's value, not the newest alone
        assert [e.get("sharpness") for e in screen.record.epochs] == [10, 20, 30, 40, 50]
        await pilot.press("right_square_bracket")
        await wait_for_text(pilot, "margin (2/3)", "epoch 5: margin 0.25")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_for_text(pilot, "seconds (3/3)")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        await wait_for_text(pilot, "epoch 5: train")  # drawn again after the switch back


async def test_compare_shows_each_runs_own_metrics(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for name, scale, extra in (("sharp-a", 10.0, {"margin": 0.25}), ("sharp-b", 7.0, {})):
        with dmt_tui.Run(name, runs_dir=runs) as run:
            for epoch in range(1, 4):
                run.epoch(train_loss=1 / epoch, val_loss=1.1 / epoch, sharpness=scale * epoch,
                          **extra)
    app = DmtApp(runs)
    async with app.run_test(size=(120, 36)) as pilot:
        text = await wait_for_text(pilot, "sharp-a", "sharp-b", "your own data",
                                   "your own model")
        assert "None" not in text  # a run without config says nothing it does not know
        await pilot.press("space", "up", "space", "c")  # the newest is selected: mark both
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), "the comparison")
        text = await wait_for_text(pilot, "sharpness (last)", "margin (last)")
        rows = {line.split()[1]: line.split()[2:] for line in text.splitlines()
                if "(last)" in line}
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        a_first = screen.records[0].name == "sharp-a"  # the table's columns: the marked order
        assert rows["sharpness"][:3] == (["(last)", "30", "21"] if a_first
                                         else ["(last)", "21", "30"])
        assert rows["margin"][:3] == (["(last)", "0.2500", "-"] if a_first
                                      else ["(last)", "-", "0.2500"])
