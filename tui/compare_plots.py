"""The comparison screen's two plots: every run's loss curves overlaid, and every run's mean
gradient norm by depth. Each run keeps one colour (RUN_COLORS) in both plots, the legend
and the table, so a colour is all it takes to follow a run across the screen."""

from __future__ import annotations

import math
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical

from dmt_tui.app.grad_panel import layer_stats
from dmt_tui.app.plot import Plot
from dmt_tui.app.seed_bands import BAND_MARKER, bands, colour_indices, draw_band
from dmt_tui.app.series import Point, decimate, log10_points, log_ticks, points
from dmt_tui.app.ticks import linear_ticks, whole_ticks
from dmt_tui.rundir.record import RunRecord

# RGB, so plotext and the legend's Rich styles draw exactly the same colour; far apart in
# hue, and bright enough for a dark or a light theme. Past eight runs the colours repeat
# and the run numbers tell them apart.
RUN_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 175, 255), (255, 135, 0), (215, 95, 255), (95, 215, 95),
    (255, 85, 85), (230, 210, 60), (255, 135, 200), (150, 150, 150),
)
LR_DECADE = 10.0  # rates spanning more than this factor get a log axis
VAL_MARKER, TRAIN_MARKER = "braille", "·"  # solid for validation, dotted (dimmer) for train


def run_color(index: int) -> tuple[int, int, int]:
    """The colour of the `index`-th run (from 0)."""
    return RUN_COLORS[index % len(RUN_COLORS)]


def run_style(index: int) -> str:
    """The same colour as a Rich style, for legends and table headers."""
    r, g, b = run_color(index)
    return f"rgb({r},{g},{b})"


def _draw_line(plt: Any, series: list[Point], color: tuple[int, int, int],
               marker: str) -> None:
    if series:
        plt.plot([x for x, _ in series], [y for _, y in series], color=color, marker=marker)


class CompareLossPanel(Vertical):
    """Validation loss of every run (and train loss, dotted, unless hidden)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._drawn: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Plot(id="compare-loss-plot")

    def draw(self, records: list[RunRecord], show_train: bool, log_y: bool,
             show_lr: bool = False) -> None:
        """Redraw when an epoch arrived, an option changed or the plot was resized; with
        `show_lr`, every run's learning rate per epoch instead of its losses."""
        plot = self.query_one(Plot)
        width, height = plot.size
        key = (tuple(len(r.epochs) for r in records), show_train, log_y, show_lr, width,
               height)
        if key == self._drawn or not width or not height:
            return
        self._drawn = key
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        if show_lr:
            self._draw_lr(plt, records, width, height)
            plot.refresh()
            return
        train = "  [dim]··· train[/]" if show_train else "  (t: train too)"
        grouped = bands(records)
        seeds = f"  {BAND_MARKER} min-max over seeds" if len(grouped) < len(records) else ""
        self.border_title = f"Loss{' (log y)' if log_y else ''}  ━ val{seeds}{train}  (r: lr)"
        drawn: list[float] = []
        xs: list[float] = []
        curves = [("val_loss", VAL_MARKER)] + ([("train_loss", TRAIN_MARKER)]
                                               if show_train else [])
        for colour, members in grouped:  # one run, or the seeds of one configuration

            def draw(series: list[Point], marker: str, colour: int = colour) -> None:
                series = decimate(series, width)
                if log_y:
                    series = log10_points(series)
                _draw_line(plt, series, run_color(colour), marker)
                drawn.extend(y for _, y in series)
                xs.extend(x for x, _ in series)

            for field, marker in curves:  # the mean of one run is the run
                draw_band(draw, members, field, log_y, marker, field == "val_loss")
        if not drawn:
            plt.title("no epochs to draw yet")
            plot.refresh()
            return
        plt.yticks(*(log_ticks if log_y else linear_ticks)(min(drawn), max(drawn),
                                                            max(3, (height - 4) // 2)))
        plt.xticks(*whole_ticks(min(xs), max(xs), max(2, width // 8)))
        plot.refresh()

    def _draw_lr(self, plt: Any, records: list[RunRecord], width: int, height: int) -> None:
        """Each run's lr per epoch; on a log axis when the runs' rates span over a decade."""
        series = [points([e.get("epoch") for e in r.epochs], [e.get("lr") for e in r.epochs],
                         positive=True) for r in records]
        ys = [y for s in series for _, y in s]
        log = bool(ys) and max(ys) > LR_DECADE * min(ys)
        self.border_title = f"Learning rate{' (log y)' if log else ''}  (r: loss)"
        if not ys:
            plt.title("no learning rate recorded")
            return
        drawn: list[float] = []
        xs: list[float] = []
        for colour, one in zip(colour_indices(records), series, strict=True):
            line = log10_points(decimate(one, width)) if log else decimate(one, width)
            _draw_line(plt, line, run_color(colour), VAL_MARKER)
            drawn.extend(y for _, y in line)
            xs.extend(x for x, _ in line)
        plt.yticks(*(log_ticks if log else linear_ticks)(min(drawn), max(drawn),
                                                          max(3, (height - 4) // 2)))
        plt.xticks(*whole_ticks(min(xs), max(xs), max(2, width // 8)))


class CompareDepthPanel(Vertical):
    """Each run's mean gradient norm per layer in its latest epoch, input to output, on a
    log axis: a run whose gradients vanish slopes down toward the input."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Grad norm by depth (last epoch)"
        self._drawn: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Plot(id="compare-depth-plot")

    def draw(self, records: list[RunRecord]) -> None:
        """Redraw when a run's gradients arrived or the plot was resized."""
        plot = self.query_one(Plot)
        width, height = plot.size
        key = (tuple(len(r.grads) for r in records), width, height)
        if key == self._drawn or not width or not height:
            return
        self._drawn = key
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("layer (input → output)")
        names: list[list[str]] = []
        drawn: list[float] = []
        for index, record in zip(colour_indices(records), records, strict=True):
            layers = layer_stats(record.grads[-1] if record.grads else None)
            names.append([str(x.get("name") or i + 1) for i, x in enumerate(layers)])
            depth = log10_points(points(range(1, len(layers) + 1),
                                        [x.get("mean") for x in layers], positive=True))
            _draw_line(plt, depth, run_color(index), "braille")
            if depth:  # a dot per layer, so a two-layer net is more than a bare segment
                plt.scatter([x for x, _ in depth], [y for _, y in depth],
                            color=run_color(index), marker="●")
            drawn.extend(y for _, y in depth)
        if not drawn:
            plt.title("no gradient statistics yet")
            plot.refresh()
            return
        plt.yticks(*log_ticks(min(drawn), max(drawn), (height - 4) // 2))
        # Layer names when every run has the same layers; else depths 1, 2, ...
        labels = names[0] if all(n == names[0] for n in names) else \
            [str(i) for i in range(1, max(len(n) for n in names) + 1)]
        every = max(1, math.ceil(len(labels) / max(1, width // 6)))
        shown = list(range(0, len(labels), every))
        plt.xticks([i + 1 for i in shown], [labels[i] for i in shown])
        plot.refresh()
