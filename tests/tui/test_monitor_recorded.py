"""The monitor on a finished run from tests/data: what each panel says, and the keys that
change what they show. No trainer runs here."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dmt_tui.app.app import DmtApp, goodbye
from dmt_tui.app.grad_panel import GradPanel
from dmt_tui.app.help_screen import HelpScreen
from dmt_tui.app.loss_panel import LossPanel
from dmt_tui.app.monitor import MonitorScreen
from dmt_tui.app.plot import Plot
from dmt_tui.app.runs_list import RunsList
from tests.tui.conftest import RECORDED_RUN, screen_text, wait_for, wait_for_text


async def test_opens_on_the_runs_list_with_the_newest_run_shown(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for_text(
            pilot, RECORDED_RUN, "finished", "25/25",
            "epoch 25: train 0.6901 val 0.7309 acc 48.8%",  # the loss panel
            "best epoch 12  val loss 0.6938", "wait  13/30",  # early stopping
            "finished: completed all 25 epochs",
            "mlp 8 × 32 sigmoid  sgd lr 0.1",  # the run panel
            "epoch 25/25", "10/10 steps",  # progress
            "layer fc1 (1/9)", "zero-norm steps 0/10")  # gradient norms
        assert isinstance(app.focused, RunsList)


async def test_brackets_change_the_histogram_layer(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "layer fc1 (1/9)" in screen_text(app), "the grad panel")
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "layer fc2 (2/9)" in screen_text(app), "layer fc2")
        assert "fc2: per-step norms" in screen_text(app)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await wait_for(pilot, lambda: "layer out (9/9)" in screen_text(app),
                       "wrapping round to the output layer")
        assert "out: per-step norms" in screen_text(app)


async def test_depth_plot_shows_norms_vanishing_toward_the_input(recorded_runs: Path) -> None:
    """The deep sigmoid net's mean norms span decades, small at the input and large at the
    output: the depth plot's line starts (fc1, on the left) decades below where it ends
    (out), and its log axis keeps the same ten decades for every run, and says so."""
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        plot = app.screen.query_one("#grad-depth", Plot)
        lines: list[tuple[list[float], list[float]]] = []
        real_plot = plot.plt.plot

        def recording_plot(xs: list[float], ys: list[float], **kw: Any) -> None:
            lines.append((list(xs), list(ys)))
            real_plot(xs, ys, **kw)

        plot.plt.plot = recording_plot  # type: ignore[method-assign,assignment]
        await wait_for_text(pilot, "mean norm by depth (1e-9..1e1)", "1e0┤", "1e-3┤", "1e-6┤",
                            "1e-9┤")
        await pilot.press("right_square_bracket")  # drawn again (the picked layer moves),
        await wait_for(pilot, lambda: bool(lines), "the depth plot")  # now through the patch
        xs, log_means = lines[-1]
        assert xs == list(range(1, 10))  # fc1 (input) to out, left to right
        assert log_means[0] < log_means[-1] - 5  # the input's norm is 1e5 times smaller
        assert log_means[0] == min(log_means)


async def test_l_toggles_the_log_axis(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "epoch 25:" in screen_text(app), "the loss plot")
        assert "Loss (log y)" not in screen_text(app)
        before = screen_text(app)
        await pilot.press("l")
        await wait_for(pilot, lambda: "Loss (log y)" in screen_text(app), "the log axis")
        assert app.screen.query_one(LossPanel).log_y
        assert screen_text(app) != before
        await pilot.press("l")
        await wait_for(pilot, lambda: "Loss (log y)" not in screen_text(app), "linear again")


async def test_question_mark_lists_every_key(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the key list")
        text = screen_text(app)
        box = app.screen.query_one("#help")  # at 80x24 the list scrolls: read its end too
        assert box.max_scroll_y > 0
        first = text
        box.scroll_end(animate=False, immediate=True)
        await wait_for(pilot, lambda: screen_text(app) != first, "the key list's end")
        text += screen_text(app)
        for key, what in [("n", "New run"), ("s", "Stop run"), ("l", "Log y"),
                          ("[", "Previous layer"), ("]", "Next layer"), ("q", "Quit"),
                          ("^p", "Command palette"), ("y", "Stop the run"),
                          ("space", "Mark"), ("c", "Compare"), ("e", "Export"),
                          ("f", "Filter"), ("o", "Sort"), ("d", "Delete"),
                          ("t", "Train curves"), ("y", "Delete the run")]:
            assert any(what in line and key in line.split() for line in text.splitlines()), \
                f"{key} {what} missing:\n{text}"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen), "closing")


async def test_the_command_palette_offers_every_key_of_the_screen(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "epoch 25:" in screen_text(app), "the run")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        described = [b.description for b in MonitorScreen.BINDINGS if b.description]
        assert [t for t in titles if t in described] == described
        assert "All keys" in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"compare")
        await wait_for_text(pilot, "Compare", "Open the comparison of the marked runs. (c)")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"log y")
        await wait_for_text(pilot, "loss plot's losses on a log axis")
        await pilot.press("enter")  # runs the binding's own action
        await wait_for(pilot, lambda: "Loss (log y)" in screen_text(app), "the log axis")


async def test_all_keys_is_in_the_palette_on_every_screen(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "epoch 25:" in screen_text(app), "the run")
        await pilot.press("ctrl+p")
        await pilot.press(*"all keys")
        await wait_for_text(pilot, "All keys", "Every key of the app, screen by screen. (?)")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), "the key list")


async def test_stop_on_a_finished_run_says_so_and_asks_nothing(recorded_runs: Path) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await wait_for(pilot, lambda: "epoch 25:" in screen_text(app), "the run")
        await pilot.press("s")
        await wait_for_text(pilot, "is not training", "(finished)")  # a toast, no dialog
        assert isinstance(app.screen, MonitorScreen)


async def test_bad_values_never_break_a_plot(tmp_path: Path) -> None:
    """null, NaN-as-null and huge values in every field: the panels still draw."""
    run_dir = tmp_path / "runs" / "20260101-000000-broken"
    run_dir.mkdir(parents=True)
    layer = {"name": "fc1", "mean": None, "min": None, "max": None, "counts": [0, 0],
             "edges": [None, None, None], "zeros": 3, "nonfinite": 2}
    events = [
        {"type": "start", "time": 1.0, "layers": ["fc1"], "steps_per_epoch": 5,
         "n_train": 10, "device": "cpu"},
        {"type": "epoch", "time": 2.0, "epoch": 1, "train_loss": None, "val_loss": None,
         "val_acc": None, "es_wait": 0, "es_patience": 3, "es_best": None,
         "es_best_epoch": None},
        {"type": "grad", "time": 2.0, "epoch": 1, "layers": [layer], "total": layer},
        {"type": "epoch", "time": 3.0, "epoch": 2, "train_loss": 1e308, "val_loss": 0.0,
         "es_wait": 1, "es_patience": 3},
        {"type": "end", "time": 4.0, "state": "diverged", "reason": "train_loss is nan"},
    ]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events)
                                          + '{"type": "epo')  # and a torn last line
    (run_dir / "status.json").write_text(json.dumps({"state": "diverged"}))
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "diverged: train_loss is nan" in screen_text(app),
                       "the end state")
        await pilot.press("l")  # a zero loss has no place on a log axis
        await wait_for(pilot, lambda: "Loss (log y)" in screen_text(app), "the log axis")
        await pilot.press("right_square_bracket")
        await pilot.pause(0.5)
        assert app.screen.query_one(GradPanel).layer_index == 0  # one layer: stays
        # At 80x24 the gradient panel sits below the others: tab to the panels, scroll down.
        await pilot.press("tab", "end")
        await wait_for_text(pilot, "zero-norm steps 3/5", "non-finite 2")


async def test_a_long_run_reaches_plotext_as_at_most_two_points_per_column(
        tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "20260101-000000-long"
    run_dir.mkdir(parents=True)
    lines = [json.dumps({"type": "epoch", "time": 1.0, "epoch": n, "train_loss": 1 / n,
                         "val_loss": 2 / n}) for n in range(1, 10_001)]
    (run_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    (run_dir / "status.json").write_text(json.dumps({"state": "finished"}))
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        plot = app.screen.query_one("#loss-plot", Plot)
        plotted: list[int] = []
        real_plot = plot.plt.plot

        def counting_plot(xs: list[float], ys: list[float], **kw: Any) -> None:
            plotted.append(len(xs))
            real_plot(xs, ys, **kw)

        plot.plt.plot = counting_plot  # type: ignore[method-assign,assignment]
        await wait_for(pilot, lambda: "epoch 10000:" in screen_text(app), "the long run")
        assert plotted and max(plotted) <= 2 * plot.size.width


def test_goodbye_counts_runs_still_training(recorded_runs: Path, tmp_path: Path) -> None:
    assert goodbye(recorded_runs) == "no runs are training."
    live = recorded_runs / "20990101-000000-live"
    live.mkdir()
    (live / "status.json").write_text(json.dumps(
        {"state": "running", "pid": os.getpid(), "updated": 4e9}))
    assert goodbye(recorded_runs).startswith(f"1 run still training in {recorded_runs}")


async def test_a_live_run_redraws_epoch_after_epoch_without_laying_the_screen_out(
        tmp_path: Path, layout_passes: list[int]) -> None:
    """Each new epoch redraws every panel, but no panel changes size, so no layout pass of
    the whole screen (4-6 ms at 120x36) should run: they once ran for every epoch."""
    import copy
    import time

    import yaml

    from dmt_tui.rundir.record import RunRecord

    source = Path(__file__).resolve().parent.parent / "data" / "recorded" / RECORDED_RUN
    events = [json.loads(line) for line in (source / "events.jsonl").read_text().splitlines()]
    record = RunRecord(tmp_path / RECORDED_RUN)
    record.config = yaml.safe_load((source / "config.yaml").read_text())
    record.config["train"]["epochs"] = 100
    for event in events:
        if event["type"] != "end":
            record.apply(event)
    record.status = {"state": "running", "pid": os.getpid(), "updated": time.time()}
    layouts = layout_passes
    app = DmtApp(tmp_path / "empty")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, MonitorScreen)
        screen.store.records[record.run_id] = record
        screen.selected = record.run_id
        await wait_for_text(pilot, "epoch 25/100", "layer fc1 (1/9)  epoch 25")
        settled = 0  # the footer recomposes after the first screen: wait for layouts to stop
        while settled < 5:
            seen = len(layouts)
            await pilot.pause(0.1)
            settled = settled + 1 if len(layouts) == seen else 0
        before = len(layouts)
        for epoch in range(26, 36):
            for kind in (record.epochs, record.grads):
                event = copy.deepcopy(kind[-1])
                event["epoch"] = epoch
                record.apply(event)
            record.status["updated"] = time.time()  # the monitor's own tick redraws it
            await wait_for_text(pilot, f"epoch {epoch}/100", f"layer fc1 (1/9)  epoch {epoch}")
        assert len(layouts) == before, f"{len(layouts) - before} layout passes in 10 epochs"
