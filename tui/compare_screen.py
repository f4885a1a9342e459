"""The comparison screen (`c` on marked runs): their loss curves overlaid, their gradient
norms by depth, and a table of what differs in their configs beside each run's best
validation loss. It redraws as the records fill (live epochs, or an ended run's events read
from disk); `escape` goes back."""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dmt_tui.app.compare_plots import CompareDepthPanel, CompareLossPanel, run_style
from dmt_tui.app.config_diff import differences
from dmt_tui.app.format import number, state_text
from dmt_tui.app.metrics_panel import BUILT_IN, metric_names
from dmt_tui.app.seed_bands import colour_indices
from dmt_tui.rundir.record import RunRecord

REDRAW_S = 0.25  # as the monitor: live runs redraw at most four times a second


def legend(records: list[RunRecord]) -> Text:
    """One line per run: its colour, its number in the table, its id, state and length.
    Seeds of one experiment's configuration share a colour (seed_bands)."""
    lines = []
    for index, (colour, record) in enumerate(zip(colour_indices(records), records,
                                                 strict=True)):
        style = run_style(colour)
        epochs = len(record.epochs)
        lines.append(Text.assemble(
            ("━━ ", style), (f"{index + 1} ", f"bold {style}"), (record.run_id, "bold"),
            "  ", state_text(record.state),
            (f"  {epochs} epoch{'' if epochs == 1 else 's'}", "dim")))
    return Text("\n").join(lines)


def best_rows(records: list[RunRecord]) -> list[tuple[str, list[Text]]]:
    """`best val loss` and `best epoch` rows; the lowest loss in bold."""
    bests = [r.best for r in records]
    losses = [loss if isinstance(loss, int | float) and math.isfinite(loss) else math.inf
              for _, loss in bests]
    lowest = min(losses, default=math.inf)
    loss_cells = [Text(number(loss), style="bold green" if value == lowest < math.inf else "")
                  for (_, loss), value in zip(bests, losses, strict=True)]
    epoch_cells = [Text(str(epoch) if epoch else "-") for epoch, _ in bests]
    return [("best val loss", loss_cells), ("best epoch", epoch_cells)]


def metric_rows(records: list[RunRecord]) -> list[tuple[str, list[Text]]]:
    """A row per script's own metric (dmt_tui.Run's extra `epoch` numbers) in any of the
    runs: its value in each run's latest epoch that has it."""
    names = dict.fromkeys(name for r in records for name in metric_names(r.epochs)
                          if name not in BUILT_IN)
    rows = []
    for name in names:
        cells = []
        for record in records:
            last = next((e[name] for e in reversed(record.epochs)
                         if isinstance(e.get(name), int | float)), None)
            cells.append(Text("-" if last is None else number(last)))
        rows.append((f"{name} (last)", cells))
    return rows


class CompareScreen(Screen[None]):
    """Two or more runs side by side."""

    BINDINGS = [
        Binding("escape", "close", "Back", id="compare.close"),
        Binding("t", "toggle_train", "Train curves", id="compare.toggle_train"),
        Binding("l", "toggle_log", "Log y", id="compare.toggle_log"),
        Binding("r", "toggle_lr", "LR", id="compare.toggle_lr"),
    ]

    def __init__(self, records: list[RunRecord]) -> None:
        super().__init__()
        # The monitor's records: it feeds them as live runs' epochs arrive, and fills an
        # ended run's from disk when asked (MonitorScreen.want_events, before this opens).
        self.records = records
        self.show_train = True
        self.log_y = False
        self.show_lr = False
        self._tables_for: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        # One box for the legend and the table: at 80x24 every row goes to the plots.
        with Vertical(id="compare-summary") as box:
            box.border_title = f"Comparing {len(self.records)} runs"
            box.border_subtitle = "escape goes back"
            with VerticalScroll(id="compare-legend"):
                yield Static(id="compare-legend-text")
            yield DataTable(id="compare-diff", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="compare-plots"):
            yield CompareLossPanel(id="compare-loss")
            yield CompareDepthPanel(id="compare-depth")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-diff", DataTable).focus()  # arrows scroll a wide table
        self.redraw()
        self.set_interval(REDRAW_S, self.redraw)

    def redraw(self) -> None:
        """Plots and tables, each only when what it shows changed."""
        with self.app.batch_update():
            self.query_one(CompareLossPanel).draw(self.records, self.show_train, self.log_y,
                                                   self.show_lr)
            self.query_one(CompareDepthPanel).draw(self.records)
            self._draw_tables()

    def _draw_tables(self) -> None:
        key = tuple((r.run_id, len(r.epochs), r.state, r.best, bool(r.config))
                    for r in self.records)
        if key == self._tables_for:
            return
        self._tables_for = key
        self.query_one("#compare-legend-text", Static).update(legend(self.records))
        table: DataTable[Text | str] = self.query_one("#compare-diff", DataTable)
        table.clear(columns=True)
        table.add_column("setting", key="setting")
        for index, colour in enumerate(colour_indices(self.records)):
            table.add_column(Text(f"━ {index + 1}", style=f"bold {run_style(colour)}"),
                             key=str(index))
        for label, cells in [*best_rows(self.records), *metric_rows(self.records)]:
            table.add_row(Text(label, style="bold"), *cells)
        differ = differences([r.config for r in self.records])
        for dotted, values in differ:
            table.add_row(dotted, *values)
        if not differ:
            table.add_row(Text("same config", style="dim"), *["" for _ in self.records])

    def action_close(self) -> None:
        """Back to the runs."""
        self.dismiss(None)

    def action_toggle_train(self) -> None:
        """Show or hide the train loss curves."""
        self.show_train = not self.show_train
        self.redraw()

    def action_toggle_log(self) -> None:
        """Put the losses on a log axis, or back on a linear one."""
        self.log_y = not self.log_y
        self.redraw()

    def action_toggle_lr(self) -> None:
        """The left plot shows every run's learning rate, or their losses."""
        self.show_lr = not self.show_lr
        self.redraw()
