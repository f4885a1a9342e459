"""The Metrics view (`m`): any per-epoch number of the selected run over its epochs, one at a
time: a script's own scalars (dmt_tui.Run's extra `epoch` keywords) first, then lr,
accuracy and epoch time. `[` `]` pick the metric, `escape` goes back. It redraws as the
record fills, so a live run's curve grows."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer

from dmt_tui.app.format import number
from dmt_tui.app.plot import Plot
from dmt_tui.app.series import decimate, points
from dmt_tui.rundir.record import RunRecord

REDRAW_S = 0.25  # as the monitor: at most four times a second, and only when the data changed
# Fields of an `epoch` event that are not a metric to plot, or that the Loss panel plots.
NOT_METRICS = frozenset({"type", "time", "epoch", "threads", "train_loss", "val_loss",
                         "es_wait", "es_patience", "es_best", "es_best_epoch"})
BUILT_IN = ("lr", "train_acc", "val_acc", "seconds")  # after the script's own, in this order


def metric_names(epochs: list[dict[str, Any]]) -> list[str]:
    """Metrics with a number in some epoch: the run's own in first-seen order, then BUILT_IN."""
    seen: dict[str, None] = {}
    for event in epochs:
        for name, value in event.items():
            if name not in NOT_METRICS and isinstance(value, int | float) \
                    and not isinstance(value, bool):
                seen.setdefault(name)
    own = [name for name in seen if name not in BUILT_IN]
    return own + [name for name in BUILT_IN if name in seen]


class MetricsScreen(Screen[None]):
    """One metric of one run, picked with `[` and `]`."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="metrics.close"),
        Binding("left_square_bracket", "pick(-1)", "Previous metric", key_display="[",
                id="metrics.previous"),
        Binding("right_square_bracket", "pick(1)", "Next metric", key_display="]",
                id="metrics.next"),
    ]

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record
        self.index = 0
        self._drawn: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="metrics"):
            yield Plot(id="metrics-plot")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.draw()
        self.set_interval(REDRAW_S, self.draw)

    def action_close(self) -> None:
        self.dismiss()

    def action_pick(self, step: int) -> None:
        names = metric_names(self.record.epochs)
        if names:
            self.index = (self.index + step) % len(names)
        self.draw()

    def draw(self) -> None:
        plot = self.query_one("#metrics-plot", Plot)
        panel = self.query_one("#metrics", Vertical)
        epochs = self.record.epochs
        names = metric_names(epochs)
        width, height = plot.size
        key = (len(epochs), tuple(names), self.index, width, height)
        if key == self._drawn or not width or not height:
            return
        self._drawn = key
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        if not names:
            panel.border_title = f"Metrics: {self.record.run_id}"
            panel.border_subtitle = ""
            plt.title("no metrics besides the losses yet")
            plot.refresh()
            return
        self.index = min(self.index, len(names) - 1)
        name = names[self.index]
        panel.border_title = (f"Metrics: {self.record.run_id}  {name} "
                              f"({self.index + 1}/{len(names)})  [ ] pick")
        series = points([e.get("epoch") for e in epochs], [e.get(name) for e in epochs])
        last = next((e for e in reversed(epochs) if e.get(name) is not None), None)
        panel.border_subtitle = f"epoch {last.get('epoch')}: {name} {number(last.get(name))}" \
            if last else ""
        series = decimate(series, width)
        if series:
            plt.plot([x for x, _ in series], [y for _, y in series], color="cyan",
                     marker="braille")
        else:
            plt.title(f"no finite value of {name} to draw")
        plot.refresh()
