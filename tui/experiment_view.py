"""The experiment view: a leaderboard (a row per configuration, mean ± sd over seeds), the
validation loss of every configuration as its mean over seeds with a min-max band, and
each configuration's gradient norm by depth. It reads the manifest and the trials' run
folders itself, once a second; `s` stops the experiment after asking, `escape` goes back."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dmt_tui.app.compare_plots import run_color, run_style
from dmt_tui.app.confirm import Confirm
from dmt_tui.app.grad_panel import layer_stats
from dmt_tui.app.history import load_record
from dmt_tui.app.plot import Plot
from dmt_tui.app.series import log10_points, log_ticks
from dmt_tui.rundir import manifest as manifests
from dmt_tui.rundir.experiment_table import summary_rows, trial_result
from dmt_tui.rundir.record import RunRecord
from dmt_tui.rundir.scheduler import stop_experiment

# The leaderboard's orders, `o` cycles them: (name, row field, highest first). Rows without
# the figure go last.
SORTS = [("best val loss, lowest first", "best_val_loss_mean", False),
         ("val acc, highest first", "best_val_acc_mean", True),
         ("epochs, fewest first", "epochs_mean", False),
         ("time, shortest first", "seconds_mean", False),
         ("configuration, A-Z", "group", False)]
COLUMNS = ("configuration", "seeds", "best val loss", "min-max", "val acc", "epochs", "time")
POLL_S = 1.0  # trials end in seconds; the plots redraw only when an epoch arrived


def band(records: list[RunRecord]) -> list[tuple[int, float, float, float]]:
    """(epoch, mean, min, max) of val_loss over the seeds that reached each epoch."""
    by_epoch: dict[int, list[float]] = defaultdict(list)
    for record in records:
        for event in record.epochs:
            value = event.get("val_loss")
            if isinstance(value, int | float) and value == value:
                by_epoch[int(event["epoch"])].append(float(value))
    return [(e, statistics.fmean(v), min(v), max(v)) for e, v in sorted(by_epoch.items())]


def depth_means(records: list[RunRecord]) -> list[float | None]:
    """Mean over seeds of each layer's mean gradient norm in its latest epoch."""
    layers: dict[int, list[float]] = defaultdict(list)
    for record in records:
        for depth, layer in enumerate(layer_stats(record.grads[-1] if record.grads else None)):
            mean = layer.get("mean")
            if isinstance(mean, int | float) and mean > 0:
                layers[depth].append(float(mean))
    return [statistics.fmean(layers[d]) if layers[d] else None for d in range(len(layers))]


class StopExperimentConfirm(Confirm):
    BINDINGS = [
        Binding("y", "answer(True)", "Stop the experiment", id="stop_experiment.yes"),
        Binding("n,escape", "answer(False)", "Keep it", id="stop_experiment.no"),
    ]

    def __init__(self, experiment_id: str) -> None:
        super().__init__("Stop experiment", f"Stop {experiment_id}?\nIts running trials end "
                         "'stopped', the queued ones are cancelled; ended runs keep their "
                         "data.", "Stop", "Keep going")


class ExperimentScreen(Screen[None]):
    """One experiment, its configurations side by side."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="experiment.close"),
        Binding("s", "stop", "Stop experiment", id="experiment.stop"),
        Binding("l", "toggle_log", "Log y", id="experiment.toggle_log"),
        Binding("o", "sort", "Sort", id="experiment.sort"),
    ]

    def __init__(self, runs_dir: Path, experiment_id: str) -> None:
        super().__init__()
        self.runs_dir, self.experiment_id = runs_dir, experiment_id
        self.manifest: dict[str, Any] = {}
        self.records: dict[str, RunRecord] = {}
        self.log_y = False
        self.sort = 0  # an index into SORTS
        self._drawn: tuple[Any, ...] | None = None
        self._reading = False  # a thread is reading the records
        self._records_read = False  # the plots have every started trial's events

    def compose(self) -> ComposeResult:
        with Vertical(id="experiment-summary") as box:
            box.border_title = f"Experiment {self.experiment_id}"
            box.border_subtitle = "o sorts · s stops · escape goes back"
            yield Static(id="experiment-header")
            yield DataTable(id="experiment-leaderboard", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="experiment-plots"):
            with Vertical(id="experiment-loss") as loss:
                loss.border_title = "Val loss: mean over seeds, ··· min-max"
                yield Plot(id="experiment-loss-plot")
            with Vertical(id="experiment-depth") as depth:
                depth.border_title = "Grad norm by depth (last epoch, mean over seeds)"
                yield Plot(id="experiment-depth-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#experiment-leaderboard", DataTable).focus()
        # The header and leaderboard at once, from the manifest and each trial's status.json;
        # the plots once every trial's events are read, off the event loop (200 runs of 100
        # epochs take about a second to read on a busy machine).
        self._show(manifests.find(self.runs_dir, self.experiment_id), {})
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def poll(self) -> None:
        """Read the manifest and what the trials appended, in a thread; then redraw."""
        if not self._reading:
            self._reading = True
            self._read()

    @work(thread=True, group="experiment-read", exit_on_error=False)
    def _read(self) -> None:
        """The one reader of the records (a read starts only when the last one is shown)."""
        try:
            found = manifests.find(self.runs_dir, self.experiment_id)
            records = dict(self.records)
            for trial in (found or {}).get("trials", []):
                run_id = trial.get("run_id")
                if not run_id:
                    continue
                record = records.get(run_id)
                if record is None:
                    records[run_id] = load_record(self.runs_dir / run_id)
                elif record.state not in manifests.ENDED:
                    record.update()
        finally:
            self.app.call_from_thread(self._read_done)
        self.app.call_from_thread(self._show, found, records, True)

    def _read_done(self) -> None:
        self._reading = False

    def _show(self, found: dict[str, Any] | None, records: dict[str, RunRecord],
              read: bool = False) -> None:
        if self not in self.app.screen_stack:  # closed while its runs were being read
            return
        if found is None:
            self.query_one("#experiment-header", Static).update(
                Text(f"the manifest of {self.experiment_id} cannot be read", style="red"))
            return
        self.manifest, self.records = found, records
        self._records_read = self._records_read or read
        key = (self.sort, tuple(t["state"] for t in found["trials"]),
               tuple((r.run_id, len(r.epochs), len(r.grads), r.state)
                     for r in self.records.values()), self.log_y, self.size,
               self._records_read)
        if key != self._drawn:
            self._drawn = key
            self.redraw()

    def _members(self) -> dict[str, list[RunRecord]]:
        groups: dict[str, list[RunRecord]] = defaultdict(list)
        for trial in self.manifest["trials"]:
            groups.setdefault(trial["label"], [])
            record = self.records.get(trial.get("run_id") or "")
            if record is not None:
                groups[trial["label"]].append(record)
        return groups

    def redraw(self) -> None:
        results = [trial_result(self.runs_dir, t, record=self.records.get(t.get("run_id") or ""),
                                read_events=False) for t in self.manifest["trials"]]
        states = [r.state for r in results]
        counts = manifests.progress(states)
        state = manifests.experiment_state(self.manifest, states)
        header = Text.assemble(
            (str(self.manifest.get("preset")), "bold"), f"  {state}  ",
            (f"{counts['ended']}/{counts['total']}", "bold"),
            f" ended, {counts['running']} running, {counts['queued']} queued")
        if self.manifest.get("description"):
            header.append(f"\nlook for: {self.manifest['description']}", style="dim")
        rows = summary_rows(self.manifest, results)
        order = [t["label"] for t in self.manifest["trials"]]
        colour = {label: i for i, label in enumerate(dict.fromkeys(order))}
        with self.app.batch_update():
            self.query_one("#experiment-header", Static).update(header)
            self._table(rows, colour)
            members = self._members()
            self._loss_plot(members, colour)
            self._depth_plot(members, colour)

    def _table(self, rows: list[dict[str, Any]], colour: dict[str, int]) -> None:
        table: DataTable[Text | str] = self.query_one("#experiment-leaderboard", DataTable)
        table.clear(columns=True)
        name, field, highest_first = SORTS[self.sort]
        self.query_one("#experiment-summary").border_subtitle = \
            f"by {name} (o) · s stops · escape goes back"
        known = [r for r in rows if r[field] is not None]
        known.sort(key=lambda r: r[field], reverse=highest_first)
        cells: list[list[Text | str]] = []
        for row in known + [r for r in rows if r[field] is None]:
            mean, sd = row["best_val_loss_mean"], row["best_val_loss_sd"]
            loss = "-" if mean is None else f"{mean:.4g}" + ("" if sd is None else f" ± {sd:.2g}")
            spread = "-" if mean is None else \
                f"{row['best_val_loss_min']:.3g}-{row['best_val_loss_max']:.3g}"
            acc = row["best_val_acc_mean"]
            cells.append([
                Text(f"━ {row['group'] or 'base'}", style=run_style(colour[row["group"]])),
                f"{row['ended']}/{row['runs']}", loss, spread,
                "-" if acc is None else f"{acc * 100:.1f}%",
                "-" if row["epochs_mean"] is None else f"{row['epochs_mean']:.0f}",
                "-" if row["seconds_mean"] is None else f"{row['seconds_mean']:.1f}s"])
        # Widths given, not measured: DataTable measures new rows only when its queue is
        # idle, and on a busy machine the leaderboard stayed cut to its headers' widths.
        for i, column in enumerate(COLUMNS):
            table.add_column(column, width=max([len(column), *(len(str(c[i])) for c in cells)]))
        for row_cells in cells:
            table.add_row(*row_cells)

    def _loss_plot(self, members: dict[str, list[RunRecord]], colour: dict[str, int]) -> None:
        plot = self.query_one("#experiment-loss-plot", Plot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        drawn: list[float] = []
        for label, records in members.items():
            points = band(records)
            if self.log_y:  # a loss of exactly 0 has no place on a log axis
                points = [(e, math.log10(m), math.log10(lo), math.log10(hi))
                          for e, m, lo, hi in points if lo > 0]
            if not points:
                continue
            xs = [p[0] for p in points]
            c = run_color(colour[label])
            plt.plot(xs, [p[1] for p in points], color=c, marker="braille")
            if any(p[2] != p[3] for p in points):
                plt.plot(xs, [p[2] for p in points], color=c, marker="·")
                plt.plot(xs, [p[3] for p in points], color=c, marker="·")
            drawn += [v for p in points for v in p[1:]]
        if not drawn:
            plt.title("no epochs yet" if self._records_read else "reading the trials' runs…")
        elif self.log_y:
            plt.yticks(*log_ticks(min(drawn), max(drawn), max(2, (plot.size.height - 4) // 2)))
        plot.refresh()

    def _depth_plot(self, members: dict[str, list[RunRecord]], colour: dict[str, int]) -> None:
        plot = self.query_one("#experiment-depth-plot", Plot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("layer (input → output)")
        drawn: list[float] = []
        for label, records in members.items():
            means = depth_means(records)
            depth = log10_points([(i + 1, m) for i, m in enumerate(means) if m is not None])
            if depth:
                c = run_color(colour[label])
                plt.plot([x for x, _ in depth], [y for _, y in depth], color=c,
                         marker="braille")
                plt.scatter([x for x, _ in depth], [y for _, y in depth], color=c, marker="●")
                drawn += [y for _, y in depth]
        if not drawn:
            plt.title("no gradient statistics yet" if self._records_read
                      else "reading the trials' runs…")
        else:
            plt.yticks(*log_ticks(min(drawn), max(drawn), max(2, (plot.size.height - 4) // 2)))
        plot.refresh()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_sort(self) -> None:
        """The leaderboard by its next column: loss, accuracy, epochs, time, configuration."""
        self.sort = (self.sort + 1) % len(SORTS)
        if self.manifest:
            self._show(self.manifest, self.records)

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        if self.manifest:
            self._show(self.manifest, self.records)

    def action_stop(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes and self.manifest:
                self.notify(stop_experiment(self.runs_dir, self.manifest), title="Experiment")

        self.app.push_screen(StopExperimentConfirm(self.experiment_id), answered)
