"""Plot redraw: the Loss panel over 10,000 epochs and the Gradient norms panel with 32 layers,
in the real app at 120x36.

    python bench/plot_redraw.py [--repeat 40] [--epochs 10000] [--layers 32]

The app runs headless (`App.run_test(size=(120, 36))`) with a run held in memory and
selected. Each redraw gives the panel one more epoch (so its plots really redraw: plotext
builds a new figure) and calls the panel's `draw()` as the monitor's timer does; the clock
stops when Textual has rendered the panel's plots (plotext's `build()`, its ANSI text parsed)
and written the next frame (the compositor's update, `App._display`). So it counts the
points and decimation, plotext, Textual's refresh messages and its frame pacing (up to one
60 fps frame of waiting). Prints medians over `--repeat` redraws beside the 30 ms budget.

What the Loss panel draws: train loss, val loss and val accuracy (three series). Issue 5 asks
for four, so the panel is also timed with train accuracy added as a fourth line (a subclass
that draws one more series the same way); both, and the log-y axis, are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import dmt_tui.app.monitor  # noqa: E402
from dmt_tui.app.app import DmtApp  # noqa: E402
from dmt_tui.app.grad_panel import GradPanel  # noqa: E402
from dmt_tui.app.loss_panel import LOSSES, SERIES, LossPanel, _field, _line  # noqa: E402
from dmt_tui.app.monitor import MonitorScreen  # noqa: E402
from dmt_tui.app.plot import Plot  # noqa: E402
from dmt_tui.app.series import EventPoints  # noqa: E402
from dmt_tui.rundir.record import RunRecord  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Figure  # noqa: E402

BUDGET_MS = 30.0
SIZE = (120, 36)
BINS = 24


class FourSeriesLossPanel(LossPanel):
    """The Loss panel with train accuracy as a fourth line, drawn as the panel draws val
    accuracy: cached points, decimated to the plot width, on the right axis."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._series = EventPoints({name: _field(name) for name in (*SERIES, "train_acc")})

    def draw(self, record: RunRecord | None) -> None:
        before = self._drawn
        super().draw(record)
        if self._drawn == before or record is None or not record.epochs:
            return
        plot = self.query_one("#loss-plot", Plot)
        self._series.update(record.epochs, LOSSES if self.log_y else ())
        acc = self._series.decimated("train_acc", plot.size.width)
        _line(plot.plt, [(x, 100 * y) for x, y in acc], "blue", yside="right")
        plot.refresh()


def epoch_event(epoch: int) -> dict[str, Any]:
    """A noisy, falling learning curve: plotext draws real shapes, not a flat line."""
    val = 0.3 + 0.7 * math.exp(-epoch / 2000) + 0.02 * math.sin(epoch / 7)
    train = 0.9 * val + 0.01 * math.cos(epoch / 3)
    return {"type": "epoch", "time": 0.0, "epoch": epoch, "train_loss": train,
            "val_loss": val, "train_acc": 1 - train / 2, "val_acc": 1 - val / 2, "lr": 1e-3,
            "seconds": 0.05, "es_wait": 0, "es_patience": 0, "es_best": val,
            "es_best_epoch": epoch}


def histogram(name: str, centre: float) -> dict[str, Any]:
    ratio = 9 ** (1 / BINS)
    edges = [centre / 3 * ratio ** i for i in range(BINS + 1)]
    counts = [int(10 * math.exp(-((i - BINS / 2) / 4) ** 2)) for i in range(BINS)]
    return {"name": name, "mean": centre, "min": edges[0], "max": edges[-1],
            "counts": counts, "edges": edges, "zeros": 0, "nonfinite": 0}


def grad_event(epoch: int, layers: list[dict[str, Any]]) -> dict[str, Any]:
    """A `grad` event; every epoch shares one list of layer histograms, to keep 10,000
    events of 32 layers small in memory (the panel reads only the latest's layers)."""
    total = {"mean": 1.0 / math.sqrt(epoch) * (1.1 + math.sin(epoch / 11) / 10)}
    return {"type": "grad", "time": 0.0, "epoch": epoch, "layers": layers, "total": total}


def long_run(run_dir: Path, epochs: int, n_layers: int) -> RunRecord:
    names = [f"fc{i + 1}" for i in range(n_layers - 1)] + ["out"]
    layers = [histogram(name, 10 ** (depth / 4 - n_layers / 4)) for depth, name in
              enumerate(names)]
    record = RunRecord(run_dir)
    record.config = {"name": "redraw", "train": {"epochs": epochs},
                     "early_stopping": {"patience": 0}}
    record.apply({"type": "start", "time": 0.0, "run_id": run_dir.name, "preset": "redraw",
                  "layers": names, "steps_per_epoch": 50})
    for epoch in range(1, epochs + 1):
        record.apply(epoch_event(epoch))
        record.apply(grad_event(epoch, layers))
    return record


class Clock:
    """When plots rendered and when the screen was last written: Plot.render and the app's
    `_display` (what writes a composited frame to the terminal), wrapped to note the time."""

    def __init__(self, app: DmtApp) -> None:
        self.renders: list[float] = []
        self.render_s = 0.0  # seconds inside Plot.render (plotext's build, the ANSI parsed)
        self.frames: list[float] = []
        real_render, real_display = Plot.render, app._display

        def render(plot: Plot) -> Any:
            began = time.perf_counter()
            try:
                return real_render(plot)
            finally:
                self.renders.append(time.perf_counter())
                self.render_s += self.renders[-1] - began

        def display(*args: Any, **kwargs: Any) -> Any:
            try:
                return real_display(*args, **kwargs)
            finally:
                self.frames.append(time.perf_counter())

        Plot.render = render  # type: ignore[method-assign,assignment]
        app._display = display  # type: ignore[method-assign]
        self._restore = lambda: setattr(Plot, "render", real_render)

    def close(self) -> None:
        self._restore()

    async def on_screen(self, plots: int, timeout: float = 10.0) -> float:
        """Wait until `plots` more plots rendered and a frame was written after them; return
        when that frame was done."""
        rendered = len(self.renders) + plots
        deadline = time.perf_counter() + timeout
        while True:
            if len(self.renders) >= rendered:
                last = self.renders[rendered - 1]
                done = [t for t in self.frames if t >= last]
                if done:
                    return done[0]
            if time.perf_counter() > deadline:
                raise TimeoutError("the plots were not redrawn")
            await asyncio.sleep(0.0005)  # the app runs on this loop: let it render


@dataclass
class Redraw:
    """One redraw, in ms: until the frame was on screen; in draw(); in the plots' render();
    and the CPU time of the app's thread over all of it (the machine's load left out)."""

    total: float
    draw: float
    render: float
    cpu: float


async def time_redraws(record: RunRecord, panel_type: type[Any], repeat: int,
                       before: Callable[[Any], None] | None = None) -> list[Redraw]:
    """Milliseconds from a redraw of the monitor's `panel_type` panel, with one more epoch,
    until its plots are on the screen."""
    grads = panel_type is GradPanel
    plots = 3 if grads else 1
    with tempfile.TemporaryDirectory() as empty:
        app = DmtApp(Path(empty))
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            assert isinstance(screen, MonitorScreen)
            screen.store.records[record.run_id] = record
            screen.selected = record.run_id
            await pilot.pause()
            panel = screen.query_one(panel_type)
            if before is not None:
                before(panel)
                await pilot.pause(0.5)
            clock = Clock(app)
            times = []
            layers = record.grads[-1]["layers"]
            try:
                for _ in range(repeat + 3):  # the first few warm plotext's caches
                    # Only this panel's data changes, so the monitor's own redraw tick (which
                    # may fire while we wait) has nothing else to draw. No await between
                    # the new epoch and draw(): the tick cannot draw it first.
                    epoch = (record.grads[-1]["epoch"] if grads else record.epoch) + 1
                    if grads:
                        record.apply(grad_event(epoch, layers))
                    else:
                        record.apply(epoch_event(epoch))
                    began, cpu, rendering = time.perf_counter(), time.thread_time(), \
                        clock.render_s
                    panel.draw(record)
                    drawn = time.perf_counter()
                    on_screen = await clock.on_screen(plots)
                    times.append(Redraw(1000 * (on_screen - began), 1000 * (drawn - began),
                                        1000 * (clock.render_s - rendering),
                                        1000 * (time.thread_time() - cpu)))
                    await pilot.pause(0.05)  # the app idles between redraws, as between ticks
            finally:
                clock.close()
            return times[3:]


def log_y(panel: LossPanel) -> None:
    panel.log_y = True


async def measure(args: argparse.Namespace) -> list[tuple[str, list[Redraw]]]:
    with tempfile.TemporaryDirectory() as folder:
        record = long_run(Path(folder) / "20260101-000000-redraw", args.epochs, args.layers)
        rows = [
            (f"loss, 3 series (as drawn), {args.epochs} epochs",
             await time_redraws(record, LossPanel, args.repeat)),
            ("loss, 3 series, log y", await time_redraws(record, LossPanel, args.repeat,
                                                               log_y)),
        ]
        real = dmt_tui.app.monitor.LossPanel
        dmt_tui.app.monitor.LossPanel = FourSeriesLossPanel  # type: ignore[misc]
        try:
            rows.append((f"loss, 4 series (+ train acc), {args.epochs} epochs",
                         await time_redraws(record, LossPanel, args.repeat)))
        finally:
            dmt_tui.app.monitor.LossPanel = real  # type: ignore[misc]
        rows.append((f"gradient norms, {args.layers} layers, 3 plots",
                     await time_redraws(record, GradPanel, args.repeat)))
        return rows


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="redraws timed (default 40)")
    parser.add_argument("--epochs", type=int, default=10_000, help="epochs (default 10000)")
    parser.add_argument("--layers", type=int, default=32, help="layers (default 32)")
    return parser


def run(args: argparse.Namespace) -> list[Figure]:
    """Time the redraws, print them with their parts, and return the figures."""
    rows = asyncio.run(measure(args))
    print(f"plot redraw at {SIZE[0]}x{SIZE[1]}: draw() to the frame on screen, "
          f"{args.repeat} redraws")
    figures = []
    for label, redraws in rows:
        total = [r.total for r in redraws]
        figure = Figure(f"plot redraw: {label}", statistics.median(total), "ms", BUDGET_MS,
                        "median")
        figures.append(figure)
        print(figure.line())
        print(f"  {'':<56} (p90 {statistics.quantiles(total, n=10)[-1]:.1f} ms; draw() "
              f"{statistics.median(r.draw for r in redraws):.1f} ms, plot render "
              f"{statistics.median(r.render for r in redraws):.1f} ms, CPU "
              f"{statistics.median(r.cpu for r in redraws):.1f} ms)")
    return figures


def main() -> int:
    run(parser().parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
