"""The new-run form's plots: the highlighted activation's f and f', and the chosen
schedule's lr over the whole run, from the same formulas the trainer uses."""

from __future__ import annotations

from pathlib import Path

from dmt_tui.app.activation_preview import ActivationPreview
from dmt_tui.app.app import DmtApp
from dmt_tui.app.schedule_preview import SchedulePreview
from dmt_tui.app.ticks import compact
from dmt_tui.presets import load_preset
from dmt_tui.presets.schedules import noam_lr
from tests.tui.conftest import screen_text, tab_to, wait_for, wait_for_text


async def test_activation_and_schedule_previews(tmp_path: Path) -> None:
    app = DmtApp(tmp_path / "runs")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("n")
        await wait_for_text(pilot, "binary-step", "activation")
        assert "[f ━ cyan" not in screen_text(app)  # the preset list keeps its rows
        await pilot.press("tab")  # to the activation field: binary-step's
        await wait_for_text(pilot, "binary_step  [f ━ cyan, f' ━ orange]",
                            "lr schedule none  (25 steps/epoch)")  # 800 rows / 32
        await pilot.press("space", "down")  # the open list, one further: sigmoid
        plot = app.screen.query_one(ActivationPreview)  # its title is under the open list
        await wait_for(pilot, lambda: plot.activation == "sigmoid", "sigmoid's plot")
        await pilot.press("escape")
        await tab_to(app, pilot, "field-schedule-name")
        await pilot.press("space", "down", "enter")  # none -> noam
        await wait_for_text(pilot, "lr schedule noam  (25 steps/epoch)")
        preview = app.screen.query_one(SchedulePreview)
        config = load_preset("binary-step", ["schedule.name=noam"])
        peak = noam_lr(400, 16, 400, 1.0)  # warm-up 400 steps, d_model the widest layer
        await wait_for(pilot, lambda: preview.summary.startswith(
            f"noam: peak {compact(peak)} at step 400,"), "the peak at the warm-up's end")
        assert config["train"]["epochs"] * 25 == 500  # the whole run: 500 steps
        assert preview.summary.endswith(f"{compact(noam_lr(500, 16, 400, 1.0))} at the end")
