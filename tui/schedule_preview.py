"""The new-run form's schedule plot: the learning rate at every optimizer step of the whole
run, from the preset and the form's values (lr, epochs, batch size), before anything starts.
The formulas are presets.schedules', the ones the trainer applies."""

from __future__ import annotations

from typing import Any

from dmt_tui.app.plot import Plot
from dmt_tui.app.series import log10_points, log_ticks
from dmt_tui.app.ticks import compact, linear_ticks, whole_ticks
from dmt_tui.presets.schedules import lr_curve, steps_per_epoch
from dmt_tui.presets.schema import FILE_DATASETS

LR_COLOR = "magenta"
SHIPPED_ROWS = {"wine": 178, "diabetes": 442}  # the real tables' rows (README, Datasets)
DECADE = 10.0  # a curve spanning more than this factor is drawn on a log axis


def training_rows(config: dict[str, Any]) -> int | None:
    """The rows an epoch trains on, where known before launch (not for a user's file)."""
    data = config["data"]
    rows = SHIPPED_ROWS.get(data["dataset"])
    if data["dataset"] in FILE_DATASETS:
        return None
    n = rows if rows is not None else data["n_samples"]
    return n - min(max(1, round(n * data["val_fraction"])), n - 1)


class SchedulePreview(Plot):
    """lr against step for the whole run; `show` redraws only when the config changed."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._shown: tuple[Any, ...] | None = None
        self.summary = ""

    def show(self, config: dict[str, Any]) -> None:
        rows = training_rows(config)
        steps = steps_per_epoch(config, rows) if rows is not None else 1
        key = (repr(config["schedule"]), config["optimizer"]["lr"], config["train"]["epochs"],
               steps, repr(config["model"]["hidden"]), self.size)
        if key == self._shown:
            return
        self._shown = key
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs, lrs = lr_curve(config, steps, points=max(50, 2 * self.size.width))
        name = config["schedule"]["name"]
        per = f"{steps} steps/epoch" if rows is not None else "csv: one step/epoch shown"
        peak = max(lrs)
        self.summary = f"{name}: peak {compact(peak)} at step {xs[lrs.index(peak)]}, " \
                       f"{compact(lrs[-1])} at the end"
        plt.title(f"lr schedule {name}  ({per})")
        log = min(lrs) > 0 and peak > DECADE * min(lrs)
        points = log10_points(list(zip(xs, lrs, strict=True))) if log \
            else list(zip(xs, lrs, strict=True))
        ys = [y for _, y in points]
        plt.plot([float(x) for x, _ in points], ys, color=LR_COLOR, marker="braille")
        rows_shown = max(3, (self.size.height - 3) // 2)
        plt.yticks(*(log_ticks(min(ys), max(ys), rows_shown) if log
                     else linear_ticks(min(ys), max(ys), rows_shown)))
        plt.xticks(*whole_ticks(1, xs[-1], max(2, self.size.width // 10)))
        plt.xlabel("step")
        self.refresh()
