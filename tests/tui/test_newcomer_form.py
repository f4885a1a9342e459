"""The new-run form as a newcomer met it (issue 17): keys typed in a burst, enter in a choice
field, every error at once, the CSV file checked before launch, a changed run's name."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select

from dmt_tui.app.app import DmtApp
from dmt_tui.app.launch_fields import FIELDS, changed_name, check_csv, field_error
from dmt_tui.app.launch_form import LaunchForm
from dmt_tui.app.monitor import MonitorScreen
from tests.tui.conftest import screen_text, tab_to, wait_for, wait_for_text

TINY = "a small fast net for the app's tests"


def burst(app: DmtApp, *keys: str) -> None:
    """Keys as a fast typist or a pasted macro sends them: all handed to the app at once,
    none waiting for the one before to be handled (Pilot.press waits after each key)."""
    chars = {"tab": "\t", "enter": "\r", "space": " ", "minus": "-", "full_stop": "."}
    assert app._driver is not None
    for key in keys:
        char = chars.get(key, key if len(key) == 1 else None)
        app._driver.send_message(events.Key(key, char))


def value(app: DmtApp, widget_id: str) -> str:
    return str(app.screen.query_one(f"#{widget_id}", Input | Select).value)  # type: ignore[arg-type]


async def open_form(app: DmtApp, pilot: Pilot[Any]) -> None:
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, LaunchForm), "the form")
    await wait_for(pilot, lambda: app.focused is not None and app.focused.id == "preset-list"
                   and value(app, "field-optimizer-lr") != "", "the first preset's values")


async def test_a_burst_of_tabs_and_digits_lands_in_the_learning_rate(
        presets_dir: Path, runs_dir: Path) -> None:
    """`tab tab tab 1 0 0` in one burst left the lr at its old value: the digits reached
    the preset list before the tabs had moved the focus."""
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_form(app, pilot)
        before = value(app, "field-optimizer-lr")
        burst(app, "tab", "tab", "tab", "1", "0", "0")
        await wait_for(pilot, lambda: value(app, "field-optimizer-lr") == "100",
                       f"lr 100 (was {before})")
        assert app.focused is app.screen.query_one("#field-optimizer-lr")


async def test_a_burst_that_changes_the_preset_first_keeps_the_typed_value(
        presets_dir: Path, runs_dir: Path) -> None:
    """`end tab tab tab` then `100` gave `1002`: the preset's values arrived after the keys."""
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_form(app, pilot)
        burst(app, "end", "tab", "tab", "tab", "1", "0", "0", "tab", "4")
        await wait_for(pilot, lambda: value(app, "field-train-epochs") == "4", "epochs 4")
        await pilot.pause(0.5)  # a late fill from the preset list would land by now
        assert value(app, "field-optimizer-lr") == "100"
        assert value(app, "field-train-epochs") == "4"
        assert value(app, "field-model-hidden") == "8, 8"  # tiny's, the last preset
        form = app.screen
        assert isinstance(form, LaunchForm) and form.preset is not None
        assert form.preset.description == TINY  # the form scrolled to the field: list cut off


async def test_enter_in_a_choice_field_launches_a_run_named_after_the_change(
        presets_dir: Path, runs_dir: Path, trainers: list[subprocess.Popen[bytes]]) -> None:
    """In a choice field enter reopened the list; now space opens it, enter there picks,
    and enter again launches. The run is named after what changed (`tiny.relu`)."""
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_form(app, pilot)
        await pilot.press("end")
        await wait_for_text(pilot, TINY)
        await wait_for(pilot, lambda: value(app, "field-model-activation") == "tanh", "tanh")
        await pilot.press("tab", "space")  # activation: open its list
        await wait_for(pilot, lambda: app.screen.query_one(
            "#field-model-activation", Select).expanded, "the open list")
        await pilot.press("down", "enter")  # tanh -> relu, the list closes
        await wait_for(pilot, lambda: value(app, "field-model-activation") == "relu", "relu")
        assert isinstance(app.screen, LaunchForm)
        assert app.focused is not None and app.focused.id == "field-model-activation"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
        await wait_for(pilot, lambda: len(trainers) == 1, "a launch")
        run_dirs = list(runs_dir.iterdir())
        assert len(run_dirs) == 1 and run_dirs[0].name.endswith("-tiny.relu")
        config = (run_dirs[0] / "config.yaml").read_text("utf-8")
        assert "activation: relu" in config and "name: tiny.relu" in config


async def test_every_invalid_field_shows_its_error_at_once(
        presets_dir: Path, runs_dir: Path) -> None:
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await open_form(app, pilot)
        await pilot.press("end")
        await wait_for(pilot, lambda: value(app, "field-train-epochs") == "6", "tiny's values")
        await pilot.press("tab", "tab", "tab", "minus", "1",  # learning rate
                          "tab", "0",  # epochs
                          "tab", "tab", *"8, x", "enter")  # hidden layers
        await wait_for_text(pilot, "expected a finite number > 0")
        text = screen_text(app)
        rows = {label: next(line for line in text.splitlines() if label in line)
                for label in ("learning rate", "epochs", "hidden layers")}
        assert "expected a finite number > 0" in rows["learning rate"]
        assert "expected a whole number >= 1" in rows["epochs"]
        assert "expected a list" in rows["hidden layers"]
        assert app.focused is app.screen.query_one("#field-optimizer-lr")  # the first one
        assert isinstance(app.screen, LaunchForm)
        assert not runs_dir.exists() or not any(runs_dir.iterdir())


async def test_a_csv_dataset_is_checked_before_launch(
        presets_dir: Path, runs_dir: Path, tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("a,b,y\n1,2,0\n3,4,1\n", "utf-8")
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form(app, pilot)
        await tab_to(app, pilot, "field-data-dataset")
        await pilot.press("space", "end", "enter")  # csv is the last dataset
        await wait_for(pilot, lambda: value(app, "field-data-dataset") == "csv", "csv")
        await pilot.press("tab", "tab", "tab", "tab", *str(tmp_path / "nowhere.csv"),
                          "tab", "y", "enter")
        await wait_for_text(pilot, "no such file")
        assert app.focused is app.screen.query_one("#field-data-path")
        # The focus moved to the file field, its text selected: typing replaces it.
        await pilot.press(*str(table), "tab", *"target", "enter")
        await wait_for_text(pilot, "no column 'target'")
        assert "columns: a, b, y" in screen_text(app)
        assert isinstance(app.screen, LaunchForm)
        assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_field_errors_and_names_without_a_screen(tmp_path: Path) -> None:
    by_key = {f.key: f for f in FIELDS}
    assert field_error(by_key["optimizer.momentum"], "1.5") is not None
    assert field_error(by_key["optimizer.momentum"], "0.9") is None
    assert field_error(by_key["nproc"], "0") == "expected a whole number >= 1, got 0"
    assert field_error(by_key["data.path"], "") is None  # optional: null
    assert changed_name("xor-sgd", [(by_key["optimizer.lr"], "10")]) == "xor-sgd.lr-10"
    assert changed_name("deep-sigmoid-vanishing", [(by_key["model.activation"], "relu")]) \
        == "deep-sigmoid-vanishing.relu"
    name = changed_name("x", [(by_key["model.hidden"], "64, 64"),
                              (by_key["optimizer.nesterov"], "true")])
    assert name == "x.hidden-64x64.nesterov"
    long = changed_name("a" * 60, [(by_key["train.seed"], "12345")])
    assert len(long) <= 64 and set(long) <= set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
    table = tmp_path / "t.csv"
    table.write_text("x,label\n1,0\n", "utf-8")
    data = {"dataset": "csv", "path": str(table), "label": "label"}
    assert check_csv({"data": data}) is None
    assert check_csv({"data": {**data, "label": "y"}})[0] == "data.label"  # type: ignore[index]
    assert check_csv({"data": {**data, "path": str(tmp_path / "no.csv")}})[0] == "data.path"  # type: ignore[index]
