"""The new-run form without starting anything: fields filled from the preset, choices on
show, and invalid values caught beside their field."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest
from textual.widgets import Input

import dmt_tui.app.launch_form
from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.app.launch_form import FIELDS, LaunchForm, error_field, override
from dmt_tui.presets.schema import ACTIVATIONS
from tests.tui.conftest import screen_text, wait_for, wait_for_text


async def open_form_on_tiny(app: DmtApp, pilot) -> None:  # type: ignore[no-untyped-def]
    await pilot.press("n")
    await wait_for(pilot, lambda: isinstance(app.screen, LaunchForm), "the form")
    await pilot.press("end")  # user presets come after the built-in ones
    await wait_for(pilot, lambda: app.screen.query_one("#field-train-epochs", Input).value
                   == "6", "tiny's values in the fields")


async def test_form_lists_presets_and_fills_fields(presets_dir: Path, runs_dir: Path) -> None:
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        text = await wait_for_text(pilot, "deep-sigmoid-vanishing", "8 sigmoid layers",
                                   "learning rate", "patience", "epochs")
        assert "a finite number > 0" in text  # the allowed values beside the field
        await pilot.press("end")
        text = await wait_for_text(pilot, "a small fast net for the app's tests", "8, 8",
                                   "xor-adam")
        assert app.screen.query_one("#field-optimizer-lr", Input).value == "0.01"
        # The fields below scroll into view as tab reaches them.
        for _ in range(len(FIELDS)):
            await pilot.press("tab")
        assert app.focused is app.screen.query_one("#field-nproc")
        text = await wait_for_text(pilot, "auto, cpu, cuda or cuda:N", "processes")
        for _ in range(len(FIELDS) - 1):
            await pilot.press("shift+tab")
        assert app.focused is app.screen.query_one("#field-model-activation")
        # The activation field lists every activation the trainer knows (space opens it).
        await pilot.press("space")
        text = await wait_for_text(pilot, "binary_step", "leaky_relu")
        await pilot.press("end")
        text = await wait_for_text(pilot, ACTIVATIONS[-1])
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, LaunchForm), "closing")
        assert not runs_dir.exists() or not any(runs_dir.iterdir())


async def test_invalid_values_show_beside_their_field_and_start_nothing(
        presets_dir: Path, runs_dir: Path) -> None:
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_tiny(app, pilot)
        await pilot.press("tab", "tab", "tab")  # activation, optimizer, learning rate
        assert app.focused is app.screen.query_one("#field-optimizer-lr")
        await pilot.press("minus", "1", "enter")
        text = await wait_for_text(pilot, "expected a finite number > 0")
        assert isinstance(app.screen, LaunchForm)
        row = next(line for line in text.splitlines() if "learning rate" in line)
        assert "-1" in row and "expected a finite number > 0" in row
        # Fixing it and breaking the hidden layers moves the error to that field.
        await pilot.press(*"0.01", "tab", "tab", "tab", *"8, x", "enter")
        text = await wait_for_text(pilot, "hidden layers")
        await wait_for(pilot, lambda: "expected a list" in screen_text(app), "hidden's error")
        text = screen_text(app)
        assert "expected a finite number > 0" not in text
        row = next(line for line in text.splitlines() if "hidden layers" in line)
        assert "expected a list" in row
        assert app.focused is app.screen.query_one("#field-model-hidden")
        assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_errors_map_to_the_field_they_name() -> None:
    assert error_field("/x/tiny.yaml: optimizer.lr: expected a finite number > 0, got -1") \
        == ("optimizer.lr", "expected a finite number > 0, got -1")
    assert error_field("--set model.hidden=[8,: not valid YAML (line 1, column 4): bad")[0] \
        == "model.hidden"
    assert error_field("/x/tiny.yaml: optimizer.nesterov: needs sgd") == \
        ("optimizer.nesterov", "needs sgd")  # a field since issue 17
    assert error_field("/x/tiny.yaml: optimizer.betas: expected a list") == \
        (None, "/x/tiny.yaml: optimizer.betas: expected a list")  # no field: below them


def test_hidden_layers_are_written_as_a_yaml_list() -> None:
    hidden = next(f for f in FIELDS if f.key == "model.hidden")
    assert override(hidden, "64, 32") == "model.hidden=[64, 32]"
    assert override(hidden, "[64,32]") == "model.hidden=[64,32]"


async def test_processes_is_checked_beside_itself_and_passed_to_launch(
        presets_dir: Path, runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def refusing_launch(config: dict, runs: Path, nproc: int = 1) -> NoReturn:
        asked.append(nproc)  # what the form asked for; nothing starts
        raise rundir.RunDirError("not launched in this test")

    monkeypatch.setattr(dmt_tui.app.launch_form, "launch", refusing_launch)
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_form_on_tiny(app, pilot)
        assert app.screen.query_one("#field-nproc", Input).value == "1"  # the default
        await pilot.press(*["tab"] * len(FIELDS))  # the last field
        assert app.focused is app.screen.query_one("#field-nproc")
        await pilot.press("backspace", "0", "enter")
        text = await wait_for_text(pilot, "expected a whole number >= 1, got 0")
        row = next(line for line in text.splitlines() if "processes" in line)
        assert "expected a whole number >= 1, got 0" in row
        assert asked == []
        await pilot.press("backspace", "2", "enter")
        await wait_for_text(pilot, "not launched in this test")
        assert asked == [2]
        assert "expected a whole number" not in screen_text(app)
