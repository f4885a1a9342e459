"""The views that make each lesson visible, drawn from recorded runs: the learning rate,
smoothing, wall time, accuracy's own axis, the decision boundary, gradients over time, dead
ReLUs, and the comparison's learning rate. No trainer runs here."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from dmt_tui.app.app import DmtApp
from tests.tui.conftest import (
    DATA_RUNS,
    RECORDED_RUN,
    compare_runs,
    screen_text,
    wait_for,
    wait_for_text,
)

RUNS_2D = DATA_RUNS.parent / "recorded-2d"
RUN_2D = "20261130-132353-mlp-relu-spiral"


async def test_r_shows_the_learning_rate_below_the_loss(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "epoch 25: train")
        assert "learning rate" not in screen_text(app)
        await pilot.press("r")
        screen = await wait_for_text(pilot, "learning rate", "0.1┤")  # sgd lr 0.1, constant
        assert "learning rate (log)" not in screen  # one value spans no decade


async def test_a_cycles_smoothing_named_in_the_title(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "epoch 25: train")
        await pilot.press("a")
        await wait_for_text(pilot, "Loss smooth 0.6")
        await pilot.press("a", "a", "a")  # 0.9, 0.99, then off
        await wait_for_text(pilot, "Loss  ━ train")
        assert "smooth" not in screen_text(app)


async def test_w_puts_wall_time_on_the_x_axis(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "epoch 25: train")
        await pilot.press("w")
        await wait_for_text(pilot, "seconds")
        await pilot.press("w")
        await wait_for(pilot, lambda: "seconds" not in screen_text(app), "epochs again")


async def test_loss_plot_ticks_are_whole_epochs_and_accuracy_tops_at_100(
        recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_for_text(pilot, "epoch 25: train", "├100%", "├0%", "◆ best")
        loss_rows = [line[:58] for line in screen.splitlines()[4:20]]
        ticks = re.findall(r"\d+(?:\.\d+)?", next(r for r in loss_rows if "┬" not in r
                                                   and re.fullmatch(r"[│ \d]+│?", r.strip())))
        assert ticks and all("." not in t for t in ticks), ticks
        percents = [int(p) for p in re.findall(r"├(\d+)%", screen)]
        assert max(percents) == 100


async def test_b_shows_the_decision_boundary_of_a_2d_run(tmp_path: Path) -> None:
    shutil.copytree(RUNS_2D, tmp_path / "runs")
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_text(pilot, "epoch 12: train")
        assert "Boundary  epoch" not in screen_text(app)  # the footer names the key only
        await pilot.press("b")
        screen = await wait_for_text(pilot, "Boundary  epoch 12  P(class 1)", "▀", "●", "○")
        assert "Gradient norms" not in screen
        await pilot.press("b")
        await wait_for_text(pilot, "Gradient norms")


async def test_boundary_panel_says_why_a_run_has_none(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)  # recorded before boundary events existed
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "epoch 25: train")
        await pilot.press("b")
        await wait_for_text(pilot, "no boundary yet")


async def test_v_shows_gradients_over_time(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, "layer fc1 (1/9)")
        await pilot.press("v")
        screen = await wait_for_text(pilot, "Gradient norms over time", "epochs 1..25")
        rows = [line for line in screen.splitlines() if re.match(r"│(fc\d|out) +█", line)]
        assert [r.split()[0].strip("│") for r in rows] == [
            "fc1", "fc2", "fc3", "fc4", "fc5", "fc6", "fc7", "fc8", "out"]
        assert re.search(r"1e-\d+ █+ 1e0", screen)  # the colour scale's decades
        await pilot.press("v")
        await wait_for_text(pilot, "mean norm by depth (1e-9..1e1)")


def _dead_relu_copy(folder: Path) -> None:
    """The recorded run as a ReLU net whose three first layers got zero gradient."""
    shutil.copytree(DATA_RUNS / RECORDED_RUN, folder / RECORDED_RUN)
    run = folder / RECORDED_RUN
    config = (run / "config.yaml").read_text("utf-8").replace("activation: sigmoid",
                                                               "activation: relu")
    (run / "config.yaml").write_text(config, "utf-8")
    lines = []
    for line in (run / "events.jsonl").read_text("utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "grad":
            for layer in event["layers"][:3]:
                steps = sum(layer["counts"]) + layer["zeros"]
                layer.update(counts=[0] * len(layer["counts"]), zeros=steps, mean=0.0,
                             min=0.0, max=0.0)
        lines.append(json.dumps(event))
    (run / "events.jsonl").write_text("\n".join(lines) + "\n", "utf-8")


async def test_dead_relus_are_named_in_the_gradient_and_run_panels(tmp_path: Path) -> None:
    _dead_relu_copy(tmp_path / "runs")
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(160, 40)) as pilot:
        # the Run panel and the gradient panel: each draws when its turn comes
        await wait_for(pilot, lambda: screen_text(app).count("dead ReLUs: fc1, fc2, fc3") == 2,
                       "both panels naming the dead layers")
        await pilot.press("v")
        await wait_for_text(pilot, "fc1   ···")  # exact zeros have no colour on a log scale


async def test_compare_view_shows_every_runs_learning_rate(tmp_path: Path) -> None:
    first, second = compare_runs(tmp_path / "runs")
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(pilot, first, second)
        await pilot.press("space", "up", "space", "c")
        await wait_for_text(pilot, "Comparing 2 runs", "(r: lr)")
        await pilot.press("r")
        # the copy's events keep the recorded lr: both runs trained at 0.1
        await wait_for_text(pilot, "Learning rate  (r: loss)", "0.1┤")
        await pilot.press("r")
        await wait_for_text(pilot, "(r: lr)")
