"""The Loss panel: train and validation loss per epoch (the best epoch marked), accuracy on
its own 0-100 % axis on the right, and, on `r`, the learning rate in a small plot below.
`a` smooths the curves (TensorBoard's moving average, the raw curves faint behind) and `w`
puts wall time on the x axis."""

from __future__ import annotations

from collections.abc import Callable
from operator import methodcaller
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive

from dmt_tui.app.format import number, percent
from dmt_tui.app.plot import Plot
from dmt_tui.app.series import (
    EventPoints,
    Point,
    decimate,
    finite,
    log10_points,
    log_ticks,
    smoothed,
)
from dmt_tui.app.ticks import linear_ticks, whole_ticks
from dmt_tui.rundir.record import RunRecord

TRAIN_COLOR, VAL_COLOR, ACC_COLOR, LR_COLOR, BEST_COLOR = "cyan", "orange", "green", \
    "magenta", "red"
# The raw curves behind smoothed ones: darker shades of the same hues (256-colour indices).
FAINT = {TRAIN_COLOR: 30, VAL_COLOR: 94}
LOSSES = ("train_loss", "val_loss")  # on the log axis when `log_y`; accuracy never is
SERIES = (*LOSSES, "val_acc", "lr")
SMOOTHING = (0.0, 0.6, 0.9, 0.99)  # what `m` cycles through
LR_DECADE = 10.0  # a learning rate spanning more than this factor gets a log axis


def _field(name: str) -> Callable[[dict[str, Any]], Any]:
    return methodcaller("get", name)  # called from C by EventPoints: a lambda is 4x slower


def _time(event: dict[str, Any]) -> Any:
    return event.get("time")


class LossPanel(Vertical):
    """Loss curves of the selected run; `log_y` puts the losses on a log axis."""

    log_y: reactive[bool] = reactive(False)
    show_lr: reactive[bool] = reactive(False)
    smoothing: reactive[float] = reactive(0.0)
    by_time: reactive[bool] = reactive(False)

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Loss"
        self._drawn: tuple[Any, ...] | None = None
        fields = {name: _field(name) for name in SERIES}
        self._by_epoch = EventPoints(fields)
        self._by_time = EventPoints(fields, x=_time)

    def compose(self) -> ComposeResult:
        yield Plot(id="loss-plot")
        yield Plot(id="lr-plot")

    def watch_log_y(self) -> None:
        self._drawn = None  # the next redraw tick draws the new axis

    def watch_show_lr(self) -> None:
        self.query_one("#lr-plot", Plot).display = self.show_lr
        self._drawn = None

    def watch_smoothing(self) -> None:
        self._drawn = None

    def watch_by_time(self) -> None:
        self._drawn = None

    def cycle_smoothing(self) -> None:
        """Off, then heavier and heavier smoothing, then off again."""
        at = SMOOTHING.index(self.smoothing) if self.smoothing in SMOOTHING else 0
        self.smoothing = SMOOTHING[(at + 1) % len(SMOOTHING)]

    def draw(self, record: RunRecord | None) -> None:
        """Redraw when the run, its epoch count, an option or the plot size changed."""
        plot = self.query_one("#loss-plot", Plot)
        lr_plot = self.query_one("#lr-plot", Plot)
        width, height = plot.size
        key = (record.run_id if record else None, len(record.epochs) if record else 0,
               self.log_y, self.show_lr, self.smoothing, self.by_time, width, height,
               lr_plot.size)
        if key == self._drawn or not width or not height:
            return
        self._drawn = key
        epochs = record.epochs if record else []
        self.border_title = _title(self.log_y, any(e.get("val_acc") is not None
                                                   for e in epochs), self.smoothing)
        self.border_subtitle = _summary(epochs[-1] if epochs else None)
        series = self._by_time if self.by_time else self._by_epoch
        full = series.update(epochs, LOSSES if self.log_y else ())
        origin = _origin(record) if self.by_time else 0.0
        scale, unit = _time_unit(epochs, origin) if self.by_time else (1.0, "epoch")

        def shown(name: str, buckets: int, smoothing: float = 0.0) -> list[Point]:
            """A field's points, decimated to `buckets`, x in the axis' unit; smoothed over
            every point before decimating."""
            kept = decimate(smoothed(full[name], smoothing), buckets) if smoothing \
                else series.decimated(name, buckets)
            return [((x - origin) / scale, y) for x, y in kept]

        best = _best_point(epochs, series.x)
        if best is not None:
            best = ((best[0] - origin) / scale, best[1])
        self._draw_losses(plot, epochs, shown, unit, best)
        if self.show_lr:
            _draw_lr(lr_plot, shown("lr", lr_plot.size.width), unit)

    def _draw_losses(self, plot: Plot, epochs: list[dict[str, Any]],
                     shown: Callable[..., list[Point]], unit: str,
                     best: Point | None) -> None:
        width, height = plot.size
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel(unit)
        if not epochs:
            plt.title("no epochs yet")
            plot.refresh()
            return
        drawn: list[float] = []
        xs: list[float] = []
        for name, color in (("train_loss", TRAIN_COLOR), ("val_loss", VAL_COLOR)):
            raw = _log(shown(name, width), self.log_y)
            xs.extend(x for x, _ in raw)
            if self.smoothing:  # the raw curve faint behind the smoothed one
                _line(plt, raw, FAINT[color])
                drawn.extend(y for _, y in raw)
            curve = _log(shown(name, width, self.smoothing), self.log_y) if self.smoothing \
                else raw
            _line(plt, curve, color)
            drawn.extend(y for _, y in curve)
        rows = max(3, (height - 4) // 2)
        if drawn:
            ticks = log_ticks(min(drawn), max(drawn), rows) if self.log_y \
                else linear_ticks(min(drawn), max(drawn), rows)
            plt.yticks(*ticks)
        if xs:
            plt.xticks(*(whole_ticks if unit == "epoch" else linear_ticks)(
                min(xs), max(xs), max(2, width // 8)))
        acc = [(x, min(100.0, max(0.0, 100 * y))) for x, y in shown("val_acc", width)]
        if acc:
            _line(plt, acc, ACC_COLOR, yside="right")
            plt.ylim(0, 100, yside=2)  # 2: the right axis
            plt.yticks([0, 50, 100], ["0%", "50%", "100%"], yside=2)
        marked = _log([best], self.log_y) if best is not None and drawn else []
        if marked:  # last, so that no curve covers it
            plt.scatter([marked[0][0]], [marked[0][1]], color=BEST_COLOR, marker="◆")
        if not drawn:
            plt.title("no finite loss to draw")
        plot.refresh()


def _log(series: list[Point], log_y: bool) -> list[Point]:
    return log10_points([(x, y) for x, y in series if y > 0]) if log_y else series


def _best_point(epochs: list[dict[str, Any]],
                x_of: Callable[[dict[str, Any]], Any]) -> Point | None:
    """The best epoch's (x, validation loss), x as the series reads it (epoch or time)."""
    best = epochs[-1].get("es_best_epoch") if epochs else None
    if not isinstance(best, int):
        return None
    for event in reversed(epochs):
        if event.get("epoch") == best:
            x, y = finite(x_of(event)), finite(event.get("val_loss"))
            return None if x is None or y is None else (x, y)
    return None


def _draw_lr(plot: Plot, lr: list[Point], unit: str) -> None:
    """The learning rate per epoch (the lr of the epoch's last step), on a log axis when it
    spans more than a decade."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    width, height = plot.size
    positive = [(x, y) for x, y in lr if y > 0]
    if not positive:
        plt.title("no learning rate recorded")
        plot.refresh()
        return
    ys = [y for _, y in positive]
    log = max(ys) > LR_DECADE * min(ys)
    curve = log10_points(positive) if log else positive
    plt.title(f"learning rate{' (log)' if log else ''}")
    _line(plt, curve, LR_COLOR)
    cy = [y for _, y in curve]
    rows = max(3, (height - 3) // 2)
    plt.yticks(*(log_ticks(min(cy), max(cy), rows) if log
                 else linear_ticks(min(cy), max(cy), rows)))
    xs = [x for x, _ in curve]
    plt.xticks(*(whole_ticks if unit == "epoch" else linear_ticks)(
        min(xs), max(xs), max(2, width // 8)))
    plot.refresh()


def _origin(record: RunRecord | None) -> float:
    """Wall time zero: the run's start event, else its first epoch's start."""
    if record is None:
        return 0.0
    start = record.start.get("time")
    if isinstance(start, int | float):
        return float(start)
    first = record.epochs[0] if record.epochs else {}
    return float(first.get("time") or 0.0) - float(first.get("seconds") or 0.0)


def _time_unit(epochs: list[dict[str, Any]], origin: float) -> tuple[float, str]:
    """Seconds, minutes or hours, whichever reads best for the run's length so far."""
    last = epochs[-1].get("time") if epochs else None
    span = float(last) - origin if isinstance(last, int | float) else 0.0
    if span > 2 * 3600:
        return 3600.0, "hours"
    if span > 300:
        return 60.0, "minutes"
    return 1.0, "seconds"


def _line(plt: Any, series: list[Point], color: str | int, yside: str = "left") -> None:
    if series:
        plt.plot([x for x, _ in series], [y for _, y in series], color=color,
                 marker="braille", yside=yside)


def _title(log_y: bool, accuracy: bool, smoothing: float) -> str:
    """The panel title doubles as the legend: a plotext legend would cover the curves."""
    acc = f" [{ACC_COLOR}]━ val acc[/]" if accuracy else ""
    smooth = f" smooth {smoothing:g}" if smoothing else ""
    return (f"Loss{' (log y)' if log_y else ''}{smooth}  [{TRAIN_COLOR}]━ train[/] "
            f"[{VAL_COLOR}]━ val[/] [{BEST_COLOR}]◆ best[/]{acc}")


def _summary(last: dict[str, Any] | None) -> str:
    if last is None:
        return ""
    acc = f" acc {percent(last.get('val_acc'))}" if last.get("val_acc") is not None else ""
    return (f"epoch {last.get('epoch')}: train {number(last.get('train_loss'))} "
            f"val {number(last.get('val_loss'))}{acc}")
