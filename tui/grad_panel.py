"""The Gradient norms panel: one layer's histogram of per-step norms in the latest epoch,
every layer's mean norm by depth (vanishing gradients show as a slope down toward the
input), and the whole model's norm over epochs. All three on log axes."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Static

from dmt_tui.app.format import number
from dmt_tui.app.grad_heatmap import GradHeatmap, dead_message, scale_legend
from dmt_tui.app.plot import Plot
from dmt_tui.app.series import EventPoints, finite, log10_points, log_ticks, points
from dmt_tui.app.store import total_mean
from dmt_tui.app.ticks import whole_ticks
from dmt_tui.rundir.record import RunRecord

BAR_COLOR, DEPTH_COLOR, TOTAL_COLOR, PICK_COLOR = "cyan", "orange", "magenta", "red"
# The depth plot's log10 range, fixed so that runs compare by eye from one to the next: a deep
# sigmoid net's input layer gets about 1e-8, a healthy net's layers 1e-2..1e0.
DEPTH_DECADES = (-9, 1)


def layer_stats(grad: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The per-layer objects of a `grad` event, tolerating an event that lacks them."""
    layers = (grad or {}).get("layers")
    return [x for x in layers if isinstance(x, dict)] if isinstance(layers, list) else []


def histogram_bars(stats: dict[str, Any]) -> tuple[list[float], list[int], float]:
    """Bar centres in log10 units, their counts, and the bar width, from `edges`/`counts`."""
    edges = [finite(e) for e in stats.get("edges") or []]
    counts = stats.get("counts") or []
    if len(edges) != len(counts) + 1 or any(e is None or e <= 0 for e in edges):
        return [], [], 0.0
    logs = [math.log10(e) for e in edges if e is not None]
    centres = [(a + b) / 2 for a, b in zip(logs, logs[1:], strict=False)]
    width = (logs[-1] - logs[0]) / max(1, len(counts))
    return centres, [int(c) if isinstance(c, int) else 0 for c in counts], width


class GradPanel(Vertical):
    """Gradient norms of the selected run; `layer_index` picks the histogram's layer."""

    layer_index: reactive[int] = reactive(0)
    over_time: reactive[bool] = reactive(False)  # the heatmap instead of the three plots

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.border_title = "Gradient norms"
        self._drawn: dict[str, tuple[Any, ...]] = {}
        self._layer_count = 0
        self._note_shown: Text | None = None
        self._totals = EventPoints({"total": total_mean})  # the whole model's norm by epoch

    def compose(self) -> ComposeResult:
        with Horizontal(id="grad-plots"):
            yield Plot(id="grad-hist")
            yield Plot(id="grad-depth")
            yield Plot(id="grad-total")
        yield GradHeatmap(id="grad-heatmap")
        yield Static(id="grad-note")

    def watch_layer_index(self) -> None:
        self._drawn.clear()

    def watch_over_time(self) -> None:
        self.query_one("#grad-plots").display = not self.over_time
        self.query_one(GradHeatmap).display = self.over_time
        self.border_title = "Gradient norms over time (mean by layer, log colour)" \
            if self.over_time else "Gradient norms"
        self._drawn.clear()

    def step_layer(self, step: int) -> None:
        """Show the previous (-1) or next (+1) layer's histogram, wrapping around."""
        if self._layer_count:
            self.layer_index = (self.layer_index + step) % self._layer_count

    def draw(self, record: RunRecord | None) -> None:
        grads = record.grads if record else []
        latest = grads[-1] if grads else None
        layers = layer_stats(latest)
        self._layer_count = len(layers)
        if layers and self.layer_index >= len(layers):
            self.layer_index = len(layers) - 1
        run = (record.run_id if record else None, len(grads), self.layer_index)
        if self.over_time:
            self._draw_heatmap(run, record)
            return
        self._draw_histogram(run, latest, layers, record)
        self._draw_depth(run, layers)
        self._draw_total(run, grads)

    def _plot(self, plot_id: str, run: tuple[Any, ...]) -> Plot | None:
        """The plot to redraw, or None when nothing it shows has changed."""
        plot = self.query_one(f"#{plot_id}", Plot)
        width, height = plot.size
        key = (*run, width, height)
        if self._drawn.get(plot_id) == key or not width or not height:
            return None
        self._drawn[plot_id] = key
        plot.plt.clear_data()
        plot.plt.clear_figure()
        return plot

    def _draw_heatmap(self, run: tuple[Any, ...], record: RunRecord | None) -> None:
        key = (*run, "heatmap")
        if self._drawn.get("grad-heatmap") == key:
            return
        self._drawn["grad-heatmap"] = key
        grads = record.grads if record else []
        names = list(record.layer_names) if record else []
        self.query_one(GradHeatmap).show(grads, names)
        dead = dead_message(grads[-1] if grads else None, _activation(record))
        self._note(Text(dead, style="bold red") if dead else scale_legend(grads))

    def _draw_histogram(self, run: tuple[Any, ...], latest: dict[str, Any] | None,
                        layers: list[dict[str, Any]], record: RunRecord | None) -> None:
        plot = self._plot("grad-hist", run)
        if not layers:
            self._note(Text("no gradient statistics yet", style="dim"))
            if plot:
                plot.plt.title("histogram")
                plot.refresh()
            return
        stats = layers[self.layer_index]
        name = stats.get("name") or f"layer {self.layer_index + 1}"
        zeros, nonfinite = int(stats.get("zeros") or 0), int(stats.get("nonfinite") or 0)
        steps = sum(stats.get("counts") or []) + zeros + nonfinite
        dead = dead_message(latest, _activation(record))
        self._note(Text(dead, style="bold red") if dead else Text.assemble(
            ("[ ] ", "bold"), f"layer {name} ({self.layer_index + 1}/{len(layers)})  ",
            f"epoch {(latest or {}).get('epoch')}  mean {number(stats.get('mean'))}  ",
            (f"zero-norm steps {zeros}/{steps}", "bold red" if zeros else ""),
            (f"  non-finite {nonfinite}", "bold red" if nonfinite else "")))
        if plot is None:
            return
        plt = plot.plt
        plt.title(f"{name}: per-step norms")
        centres, counts, width = histogram_bars(stats)
        if centres and any(counts):
            plt.bar(centres, counts, width=width, color=BAR_COLOR)
            top = max(counts)  # counts are whole steps: no 2.50 ticks
            plt.yticks(sorted({0, top // 2, top}))
            plt.xticks(*log_ticks(centres[0] - width / 2, centres[-1] + width / 2,
                                  plot.size.width // 10))
        else:
            plt.title(f"{name}: no non-zero finite norm")
        plot.refresh()

    def _note(self, text: Text) -> None:
        """The line under the plots; set only when it changed, as each set repaints it. Its
        height is fixed (one row, app.tcss), so a new note needs no layout pass."""
        if text != self._note_shown:
            self._note_shown = text
            self.query_one("#grad-note", Static).update(text, layout=False)

    def _draw_depth(self, run: tuple[Any, ...], layers: list[dict[str, Any]]) -> None:
        plot = self._plot("grad-depth", run)
        if plot is None:
            return
        plt = plot.plt
        depth = log10_points(points(range(1, len(layers) + 1),
                                    [x.get("mean") for x in layers], positive=True))
        low, high = DEPTH_DECADES
        if depth:  # the same decades for every run, widened only for norms beyond them
            low = min(low, math.floor(min(y for _, y in depth)))
            high = max(high, math.ceil(max(y for _, y in depth)))
        plt.title(f"mean norm by depth (1e{low}..1e{high})")
        if depth:
            xs, ys = [x for x, _ in depth], [y for _, y in depth]
            plt.plot(xs, ys, color=DEPTH_COLOR, marker="dot")
            picked = [(x, y) for x, y in depth if x == self.layer_index + 1]
            if picked:
                plt.scatter([picked[0][0]], [picked[0][1]], color=PICK_COLOR, marker="●")
            plt.ylim(low, high)
            plt.yticks(*log_ticks(low, high, max(2, (plot.size.height - 4) // 2)))
            names = [str(x.get("name") or i + 1) for i, x in enumerate(layers)]
            every = max(1, math.ceil(len(names) / max(1, plot.size.width // 6)))
            shown = list(range(0, len(names), every))
            plt.xticks([i + 1 for i in shown], [names[i] for i in shown])
        plot.refresh()

    def _draw_total(self, run: tuple[Any, ...], grads: list[dict[str, Any]]) -> None:
        plot = self._plot("grad-total", run)
        if plot is None:
            return
        plt = plot.plt
        plt.title("total norm over epochs")
        plt.xlabel("epoch")
        self._totals.update(grads, positive=["total"])
        total = log10_points(self._totals.decimated("total", plot.size.width))
        if total:
            ys = [y for _, y in total]
            xs = [x for x, _ in total]
            plt.plot(xs, ys, color=TOTAL_COLOR, marker="braille")
            plt.yticks(*log_ticks(min(ys), max(ys), (plot.size.height - 4) // 2))
            plt.xticks(*whole_ticks(min(xs), max(xs), max(2, plot.size.width // 8)))
        plot.refresh()


def _activation(record: RunRecord | None) -> Any:
    return record.setting("model.activation") if record else None
