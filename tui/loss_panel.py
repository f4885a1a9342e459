"""The Loss panel: train and validation loss per epoch, accuracy on the right axis."""

from __future__ import annotations

from collections.abc import Callable
from operator import methodcaller
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive

from dmt_tui.app.format import number, percent
from dmt_tui.app.plot import Plot
from dmt_tui.app.series import EventPoints, Point, log10_points, log_ticks
from dmt_tui.rundir.record import RunRecord

TRAIN_COLOR, VAL_COLOR, ACC_COLOR = "cyan", "orange", "green"
LOSSES = ("train_loss", "val_loss")  # on the log axis when `log_y`; accuracy never is
SERIES = (*LOSSES, "val_acc")


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return methodcaller("get", name)  # called from C by EventPoints: a lambda is 4x slower


class LossPanel(Vertical):
    """Loss curves of the selected run; `log_y` puts the losses on a log axis."""

    log_y: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Loss"
        self._drawn: tuple[Any, ...] | None = None
        self._series = EventPoints({name: _field(name) for name in SERIES})

    def compose(self) -> ComposeResult:
        yield Plot(id="loss-plot")

    def watch_log_y(self) -> None:
        self._drawn = None  # the next redraw tick draws the new axis

    def draw(self, record: RunRecord | None) -> None:
        """Redraw when the run, its epoch count, the axis or the plot size changed."""
        plot = self.query_one("#loss-plot", Plot)
        width, height = plot.size
        key = (record.run_id if record else None, len(record.epochs) if record else 0,
               self.log_y, width, height)
        if key == self._drawn or not width or not height:
            return
        self._drawn = key
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        epochs = record.epochs if record else []
        self.border_title = _title(self.log_y, any(e.get("val_acc") is not None for e in epochs))
        self.border_subtitle = _summary(epochs[-1] if epochs else None)
        if not epochs:
            plt.title("no epochs yet")
            plot.refresh()
            return
        self._series.update(epochs, LOSSES if self.log_y else ())
        train = self._series.decimated("train_loss", width)
        val = self._series.decimated("val_loss", width)
        if self.log_y:
            train, val = log10_points(train), log10_points(val)
        _line(plt, train, TRAIN_COLOR)
        _line(plt, val, VAL_COLOR)
        if self.log_y and (train or val):
            ys = [y for _, y in train + val]
            plt.yticks(*log_ticks(min(ys), max(ys), (height - 4) // 2))
        acc = self._series.decimated("val_acc", width)
        if acc:
            _line(plt, [(x, 100 * y) for x, y in acc], ACC_COLOR, yside="right")
        if not (train or val):
            plt.title("no finite loss to draw")
        plot.refresh()


def _line(plt: Any, series: list[Point], color: str, yside: str = "left") -> None:
    if series:
        plt.plot([x for x, _ in series], [y for _, y in series], color=color,
                 marker="braille", yside=yside)


def _title(log_y: bool, accuracy: bool) -> str:
    """The panel title doubles as the legend: a plotext legend would cover the curves."""
    acc = f" [{ACC_COLOR}]━ val acc % (right)[/]" if accuracy else ""
    return (f"Loss{' (log y)' if log_y else ''}  [{TRAIN_COLOR}]━ train[/] "
            f"[{VAL_COLOR}]━ val[/]{acc}")


def _summary(last: dict[str, Any] | None) -> str:
    if last is None:
        return ""
    acc = f" acc {percent(last.get('val_acc'))}" if last.get("val_acc") is not None else ""
    return (f"epoch {last.get('epoch')}: train {number(last.get('train_loss'))} "
            f"val {number(last.get('val_loss'))}{acc}")
