"""The runs list at the top of the monitor: one row per run, the cursor picks the run the
panels show. `space` marks runs (for compare and export), `f` filters by state and `o`
sorts; the title says which filter and order are on. An experiment's trials share one row
(experiment_rows) that `enter` opens and closes."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from dmt_tui import rundir
from dmt_tui.app.experiment_rows import (
    Group,
    Manifests,
    experiment_cells,
    experiment_key,
    experiment_of,
)
from dmt_tui.app.format import number, state_text
from dmt_tui.app.guard import guard_handlers
from dmt_tui.app.messages import RunSelected
from dmt_tui.rundir.record import RunRecord

COLUMNS = (("mark", " "), ("state", "State"), ("run", "Run"), ("epoch", "Epoch"),
           ("best", "Best val loss"), ("setup", "Setup"))
# The Setup column (activation, optimizer, lr) shows from WIDE columns on; below NARROW a run
# id drops its date, so that the best validation loss still fits in 80 columns.
WIDE = 110
NARROW = 90
MARK = Text("●", style="bold yellow")

# `f` cycles through these: every run, the live ones, then each state a run can end in.
STATE_FILTERS = ("all", "live", *rundir.END_STATES, "crashed")
# `o` toggles between these orders.
SORT_ORDERS = {"started": "start time", "best": "best val loss"}


def setup_text(record: RunRecord) -> str:
    """`relu adam lr 0.01`: what tells runs of one preset apart."""
    lr = record.setting("optimizer.lr")
    parts = [record.setting("model.activation") if record.setting("model.hidden") else None,
             record.setting("optimizer.name"),
             f"lr {lr:g}" if isinstance(lr, int | float) else None]
    return " ".join(str(p) for p in parts if p)


def run_label(record: RunRecord, short: bool = False) -> str:
    """The user's title, else the run id; `short`, the id without its date (`154811-xor`)."""
    if record.title:
        return record.title
    date, _, rest = record.run_id.partition("-")
    return rest if short and date.isdigit() and rest else record.run_id


def row_cells(record: RunRecord, marked: bool = False, wide: bool = True,
              short: bool = False) -> tuple[Text | str, ...]:
    """The cells of one run's row, in COLUMNS order (Setup only when `wide`)."""
    total = record.epochs_total
    epoch = f"{record.epoch}/{total}" if total else str(record.epoch)
    best_epoch, best_loss = record.best
    best = f"{number(best_loss)} @{best_epoch}" if best_epoch else "-"
    cells: tuple[Text | str, ...] = (
        MARK if marked else "", state_text(record.state), run_label(record, short),
        Text(epoch, justify="right"), Text(best, justify="right"))
    return (*cells, setup_text(record)) if wide else cells


def shows(state_filter: str, state: str) -> bool:
    """Whether a run in `state` passes the filter."""
    if state_filter == "all":
        return True
    if state_filter == "live":
        return state in rundir.LIVE_STATES
    return state == state_filter


def sort_key(sort_by: str, record: RunRecord) -> tuple[float, str]:
    """Best validation loss first (runs without one last), or by start time: run ids begin
    with it, and every run has an id even before its start event."""
    if sort_by == "best":
        loss = record.best[1]
        if isinstance(loss, int | float) and math.isfinite(loss):
            return (float(loss), record.run_id)
        return (math.inf, record.run_id)
    return (0.0, record.run_id)


def filter_label(state_filter: str) -> str:
    return "all states" if state_filter == "all" else state_filter.replace("_", "-")


@guard_handlers()
class RunsList(DataTable[Text | str]):
    """The runs in the runs folder that pass the state filter, in the chosen order."""

    state_filter: reactive[str] = reactive("all", init=False)
    sort_by: reactive[str] = reactive("started", init=False)

    def __init__(self, *, id: str | None = None,  # noqa: A002 - Textual's name
                 runs_dir: Path | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.records: dict[str, RunRecord] = {}  # every run, shown or filtered out
        self.marked: set[str] = set()
        self._rows: dict[str, tuple[Text | str, ...]] = {}  # the cells on screen, by row key
        self.manifests = Manifests(runs_dir)
        self.groups: dict[str, Group] = {}  # the experiments with a row, by experiment id
        self.expanded: set[str] = set()  # experiments whose trials show under their row
        self._announced: str | None = None  # the run the last RunSelected named
        self.wide = True  # the Setup column shows; see WIDE
        self.short_ids = False  # run ids without their date; see NARROW

    def on_mount(self) -> None:
        self._add_columns()
        self._titles()

    def _add_columns(self) -> None:
        for key, label in COLUMNS if self.wide else COLUMNS[:-1]:
            self.add_column(label, key=key)

    def on_resize(self) -> None:
        """Show or drop the Setup column as the width allows; the cursor stays on its run."""
        wide, short = self.size.width >= WIDE, self.size.width < NARROW
        if (wide, short) == (self.wide, self.short_ids):
            return
        selected = self.selected_key  # an experiment's row stays selected, open or not
        self.wide, self.short_ids = wide, short
        self.clear(columns=True)
        self._rows.clear()
        self._add_columns()
        self._sync()
        if selected is not None:
            self.select_run(selected)

    # ---- what the monitor calls ---------------------------------------------------------

    def show_runs(self, records: list[RunRecord]) -> None:
        """Take new or changed runs; add, refresh, hide or move their rows."""
        for record in records:
            self.records[record.run_id] = record
        self._sync()

    def show_run(self, record: RunRecord, force: bool = False) -> None:
        """One run's row, added or refreshed (`force`: every cell drawn again, as after a
        rename)."""
        if force:
            self._rows.pop(record.run_id, None)
            if record.run_id in self.shown_runs:
                self.remove_row(record.run_id)
        self.show_runs([record])

    def remove_run(self, run_id: str) -> None:
        """Forget a deleted run: its row, its mark."""
        self.records.pop(run_id, None)
        self.marked.discard(run_id)
        self._sync()

    def select_run(self, run_id: str) -> None:
        """Move the cursor to a run (after a launch, or the newest on open), and scroll it
        into view once the new rows are laid out: scrolling now, before the table's height
        grew, left the row below the view at 80x24."""
        record = self.records.get(run_id)
        experiment = experiment_of(record) if record is not None else None
        if run_id not in self._rows and experiment in self.groups:
            run_id = self.groups[experiment].key  # a trial of a closed experiment: its row
        if run_id in self._rows:
            self.move_cursor(row=self.get_row_index(run_id))
            self.call_after_refresh(self._scroll_cursor_into_view)

    def toggle_mark(self) -> str | None:
        """Mark or unmark the run under the cursor (on an experiment's row: all its trials,
        or none when all were marked); return its id."""
        group = self.groups.get(self.selected_experiment or "")
        if group is not None:
            trials = {r.run_id for r in group.trials}
            self.marked = self.marked - trials if trials <= self.marked else self.marked | trials
            self._sync()
            return group.key
        run_id = self.selected_run
        if run_id is None:
            return None
        self.marked ^= {run_id}
        self._sync()
        return run_id

    def reread_experiments(self) -> None:
        """Show the manifests as they are now (after the app itself changed one)."""
        self.manifests.forget()
        self._sync()

    def toggle_experiment(self) -> bool:
        """Open the experiment under the cursor to show its trials, or close it; on one of
        its trials, close it and go to its row. False when the cursor is on a lone run."""
        experiment = self.selected_experiment
        if experiment is None:
            record = self.records.get(self.selected_run or "")
            experiment = experiment_of(record) if record is not None else None
            if experiment not in self.expanded:
                return False
        self.expanded ^= {experiment}
        self._sync()
        self.select_run(self.groups[experiment].key if experiment in self.groups else "")
        return True

    def cycle_filter(self, step: int = 1) -> None:
        """Show the next state filter in STATE_FILTERS (step -1: the one before)."""
        index = STATE_FILTERS.index(self.state_filter)
        self.state_filter = STATE_FILTERS[(index + step) % len(STATE_FILTERS)]

    def toggle_sort(self) -> None:
        """Sort by best validation loss, or by start time again."""
        self.sort_by = "best" if self.sort_by == "started" else "started"

    def watch_state_filter(self) -> None:
        self._sync()

    def watch_sort_by(self) -> None:
        self._sync()

    @property
    def selected_key(self) -> str | None:
        """The row key under the cursor: a run id, or an experiment row's key."""
        if not self.row_count or not self.is_valid_row_index(self.cursor_row):
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    @property
    def selected_experiment(self) -> str | None:
        """The experiment whose row is under the cursor (not one of its trials' rows)."""
        return experiment_key(self.selected_key)

    @property
    def selected_run(self) -> str | None:
        """The run the panels show: the one under the cursor, or on an experiment's row its
        best trial (Group.shown_trial)."""
        return self._run_of(self.selected_key)

    def _run_of(self, key: str | None) -> str | None:
        group = self.groups.get(experiment_key(key) or "")
        return group.shown_trial.run_id if group is not None else key

    @property
    def shown_runs(self) -> list[str]:
        """Row keys in the order the rows show them: run ids, and experiments' row keys."""
        return [str(row.key.value) for row in self.ordered_rows]

    # ---- keeping the rows in step ---------------------------------------------------------

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Textual measures new rows' columns on idle, after they may have been drawn, and
        keeps drawn cells and lines under keys that the new widths leave valid: under load
        the first row and the header stayed cut to the header's widths ("finis  202") until
        the next change. A new update count makes every cache key new."""
        super()._update_dimensions(new_rows)
        self._update_count += 1

    def _layout(self) -> list[tuple[str, tuple[Text | str, ...]]]:
        """Each row to show, in order, with its cells: lone runs and experiments sorted
        together (an experiment by its first trial, or its best), an open experiment's
        trials under it. An experiment shows while any of its trials passes the filter."""
        groups: dict[str, Group] = {}
        top: list[tuple[tuple[float, str], RunRecord | Group]] = []
        for record in self.records.values():
            experiment = experiment_of(record)
            if experiment is None:
                if shows(self.state_filter, record.state):
                    top.append((sort_key(self.sort_by, record), record))
                continue
            if experiment not in groups:
                groups[experiment] = Group(experiment, self.manifests.info(experiment))
            groups[experiment].trials.append(record)
        self.groups = {}
        for experiment, group in groups.items():
            if any(shows(self.state_filter, r.state) for r in group.trials):
                self.groups[experiment] = group
                # by its best trial's loss, or by when its first trial started
                first = min(group.trials, key=lambda r: r.run_id)
                top.append((sort_key(self.sort_by, group.best_trial or first)
                            if self.sort_by == "best" else sort_key("started", first), group))
        rows: list[tuple[str, tuple[Text | str, ...]]] = []
        for _, item in sorted(top, key=lambda t: t[0]):
            if isinstance(item, RunRecord):
                rows.append((item.run_id, row_cells(item, item.run_id in self.marked,
                                                    self.wide, self.short_ids)))
                continue
            open_ = item.experiment_id in self.expanded
            marked = sum(r.run_id in self.marked for r in item.trials)
            rows.append((item.key, experiment_cells(item, open_, marked, self.wide)))
            if open_:
                for record in sorted((r for r in item.trials
                                      if shows(self.state_filter, r.state)),
                                     key=lambda r: sort_key(self.sort_by, r)):
                    cells = row_cells(record, record.run_id in self.marked, self.wide, True)
                    rows.append((record.run_id, (*cells[:2], f"  {cells[2]}", *cells[3:])))
        return rows

    def _sync(self) -> None:
        wanted = self._layout()
        order = [key for key, _ in wanted]
        shown = self.shown_runs
        selected, cursor_row = self.selected_key, self.cursor_row
        if order[:len(shown)] != shown:
            # A run left the filter or changed place: rebuild, keeping the cursor on its run.
            self.clear()
            self._rows.clear()
            shown = []
        for row, cells in wanted:
            known = self._rows.get(row)
            if known is None:
                self.add_row(*cells, key=row)
            else:
                for (key, _), old, new in zip(COLUMNS, known, cells, strict=False):
                    if str(old) != str(new):  # a cell's style follows from its text
                        self.update_cell(row, key, new, update_width=True)
            self._rows[row] = cells
        if not shown and order:  # rebuilt: back to the run, or to where it was
            if selected in self._rows:
                self.select_run(selected)
            else:
                self.move_cursor(row=min(cursor_row, len(order) - 1))
        if not order:
            self._announce(None)
        elif self.selected_experiment is not None:  # its best trial may have changed
            self._announce(self.selected_run)
        self._titles()

    def _titles(self) -> None:
        # The keys in the title: at 80 columns the footer has no room left for f and o.
        self.border_title = (f"Runs · {filter_label(self.state_filter)} (f) · "
                             f"by {SORT_ORDERS[self.sort_by]} (o)")
        count = len(self.records)
        if not count:
            self.border_subtitle = "No runs yet. Press n to start one, g for an experiment, ? keys"
            return
        live = sum(1 for r in self.records.values() if r.state in rundir.LIVE_STATES)
        runs = f"{count} run{'' if count == 1 else 's'}, {live} training"
        if self.state_filter != "all":
            runs = f"{self.row_count} of {runs}"
            if not self.row_count:  # say how to get back, not just that nothing is here
                runs = f"none {filter_label(self.state_filter)} of {count} runs: " \
                       f"f next filter, F the one before"
        marked = f", {len(self.marked)} marked" if self.marked else ""
        self.border_subtitle = runs + marked

    def _announce(self, run_id: str | None) -> None:
        if run_id != self._announced:
            self._announced = run_id
            self.post_message(RunSelected(run_id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        # A rebuild moves the cursor through other rows on its way back: only the row the
        # cursor rests on now is news. On an empty list (no runs, or all filtered away) a
        # cursor key still highlights "row -1", with no key.
        if event.row_key is None or event.row_key.value is None:
            return
        key = str(event.row_key.value)
        if key == self.selected_key:
            self._announce(self._run_of(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """`enter` (or a click on the selected row) opens or closes an experiment."""
        event.stop()
        self.toggle_experiment()
