"""The monitor screen: the runs list on top, the selected run's panels below.

It owns the watcher thread (started on mount, stopped on unmount), hands what it reads to
the run store (store.RunStore: the records, and which ended runs' events are held), and
draws; plots redraw on a timer, and only the ones whose data changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from dmt_tui import rundir
from dmt_tui.app.boundary_panel import BoundaryPanel
from dmt_tui.app.compare_screen import CompareScreen
from dmt_tui.app.confirm import RunNoteDialog, StopConfirm
from dmt_tui.app.early_stop_panel import EarlyStopPanel
from dmt_tui.app.experiment_form import new_experiment, open_experiment
from dmt_tui.app.experiment_rows import stop_from_row
from dmt_tui.app.grad_panel import GradPanel
from dmt_tui.app.guard import guard_handlers
from dmt_tui.app.launch_form import Launched, LaunchForm
from dmt_tui.app.loss_panel import LossPanel
from dmt_tui.app.messages import ResumeRefused, RunGone, RunSelected, RunsPolled, WatcherFailed
from dmt_tui.app.panel_area import PanelArea
from dmt_tui.app.progress_panel import ProgressPanel
from dmt_tui.app.resume import ask_to_resume
from dmt_tui.app.run_files import RunFiles
from dmt_tui.app.run_info_panel import RunInfoPanel
from dmt_tui.app.runs_list import RunsList
from dmt_tui.app.store import RunStore
from dmt_tui.app.watcher import RunsWatcher
from dmt_tui.rundir.launch import stop
from dmt_tui.rundir.meta import write_meta

REDRAW_S = 0.25  # plots redraw at most four times a second, and only when their data changed
# The timer draws these in turn, one group a tick, each every REDRAW_S: a frame then builds
# one or two plotext figures, not four, and the app's loop is never held for all of them
# at once (~45 ms together on a two-core machine; keys and the watcher wait meanwhile).
Panel = LossPanel | RunInfoPanel | EarlyStopPanel | ProgressPanel | GradPanel | BoundaryPanel
TICK_GROUPS: tuple[tuple[type[Panel], ...], ...] = (
    (LossPanel, RunInfoPanel, EarlyStopPanel, ProgressPanel), (GradPanel, BoundaryPanel))
ALL_PANELS = tuple(panel for group in TICK_GROUPS for panel in group)
LAYER_KEYS = Binding.Group("layer")


@guard_handlers("redraw", "_redraw_tick")
class MonitorScreen(RunFiles):
    """Runs and the selected run's loss, early stopping, gradient norms and progress."""

    BINDINGS = [
        Binding("n", "new_run", "New run", id="monitor.new_run"),
        Binding("s", "stop_run", "Stop run", id="monitor.stop_run"),
        Binding("R", "resume_run", "Resume run", show=False, id="monitor.resume_run"),
        Binding("l", "toggle_log", "Log y", id="monitor.toggle_log"),
        Binding("r", "toggle_lr", "LR", id="monitor.toggle_lr"),
        Binding("b", "toggle_boundary", "Boundary", id="monitor.toggle_boundary"),
        Binding("v", "cycle_grad_view", "Gradients over time", id="monitor.cycle_grad_view",
                show=False),
        Binding("a", "cycle_smoothing", "Smooth", id="monitor.cycle_smoothing", show=False),
        Binding("w", "toggle_time", "Wall time", id="monitor.toggle_time", show=False),
        Binding("left_square_bracket", "layer(-1)", "Previous layer", key_display="[",
                group=LAYER_KEYS, id="monitor.previous_layer"),
        Binding("right_square_bracket", "layer(1)", "Next layer", key_display="]",
                group=LAYER_KEYS, id="monitor.next_layer"),
        Binding("space", "toggle_mark", "Mark", id="monitor.toggle_mark"),
        Binding("c", "compare", "Compare", id="monitor.compare"),
        Binding("e", "export", "Export", id="monitor.export"),
        Binding("f", "cycle_filter(1)", "Filter", id="monitor.cycle_filter"),
        # No description: the help at 80x24 has no row to spare; the list's subtitle and the
        # README name it.
        Binding("F", "cycle_filter(-1)", "", show=False, id="monitor.cycle_filter_back"),
        Binding("t", "rename_run", "Title and note", show=False, id="monitor.rename_run"),
        Binding("o", "toggle_sort", "Sort", id="monitor.toggle_sort"),
        Binding("d", "delete_run", "Delete", id="monitor.delete_run"),
        Binding("g", "new_experiment", "New experiment", show=False,
                id="monitor.new_experiment"),
        Binding("x", "experiment", "Experiment view", show=False, id="monitor.experiment"),
        # The list's own `enter` (DataTable's select) reaches it first; this names it in `?`
        # and the palette.
        Binding("enter", "toggle_experiment", "Open/close experiment", show=False,
                id="monitor.toggle_experiment"),
        # not in the footer, which has no room left at 80 columns; `?` lists it
        Binding("m", "metrics", "Metrics", show=False, id="monitor.metrics"),
    ]

    # what each lesson shows: listed apart in `?`
    VIEW_KEYS = frozenset({"monitor.toggle_lr", "monitor.cycle_smoothing", "monitor.toggle_time",
                           "monitor.toggle_boundary", "monitor.cycle_grad_view"})

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The app's keys (q, ?) first: the compact footer drops what does not fit at 80
        columns from the right, and those two are the ones a newcomer looks for."""
        bindings = super().active_bindings
        first = {k: b for k, b in bindings.items() if b.node is self.app}
        return {**first, **{k: b for k, b in bindings.items() if k not in first}}

    def __init__(self, runs_dir: Path, presets_dir: Path | None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.presets_dir = presets_dir
        self.store = RunStore()
        self.watcher: RunsWatcher | None = None
        self._select_when_seen: str | None = None
        self._opened = False  # the first poll selects the newest run
        self._tick = 0  # which of TICK_GROUPS the redraw timer drew last

    def compose(self) -> ComposeResult:
        yield RunsList(id="runs", runs_dir=self.runs_dir)
        with PanelArea(id="panels"), Vertical(id="panel-stack"):
            with Horizontal(id="top-row"):
                yield LossPanel(id="loss")
                with Vertical(id="status-column"):
                    yield RunInfoPanel(id="run-info")
                    yield EarlyStopPanel(id="early-stop")
                    yield ProgressPanel(id="progress")
            yield GradPanel(id="grads")
            yield BoundaryPanel(id="boundary")  # `b` shows it in the gradient panel's place
        yield Footer(compact=True)  # thirteen keys: compact fits them all in 120 columns

    def on_mount(self) -> None:
        self.query_one(RunsList).focus()
        self.watcher = RunsWatcher(self.runs_dir, self)
        self.watcher.start()
        self.set_interval(REDRAW_S / len(TICK_GROUPS), self._redraw_tick)

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()

    # ---- what the watcher sends ---------------------------------------------------------

    def on_runs_polled(self, message: RunsPolled) -> None:
        applied = self.store.apply(message.updates)
        runs_list = self.query_one(RunsList)
        runs_list.show_runs(applied.changed)  # once per poll: one re-sort, not one per run
        if not self._opened and self.store.records:
            self._opened = True
            runs_list.select_run(self.store.newest() or "")
        if self._select_when_seen in self.store.records:
            runs_list.select_run(self._select_when_seen)
            self._select_when_seen = None
        if self.selected is None:
            self.selected = runs_list.selected_run
        if self.selected in applied.histories:  # its events arrived: draw them now, the
            self.redraw(TICK_GROUPS[0])  # loss plot first; the gradient panel at its tick
        elif any(record.run_id == self.selected for record in applied.changed):
            # Now, with the list's row, not at the next tick: the panels never lag the list.
            # Each panel redraws only when its data changed, so this adds no redraws.
            self.redraw(TICK_GROUPS[0])

    def on_run_gone(self, message: RunGone) -> None:
        """A run's folder was deleted outside the app: the run leaves the list."""
        if self.store.get(message.run_id) is not None:
            self._forget_run(message.run_id)

    def on_watcher_failed(self, message: WatcherFailed) -> None:
        self.notify(message.error, title="Cannot read the runs folder", severity="error")

    def on_run_selected(self, message: RunSelected) -> None:
        self.selected = message.run_id

    def watch_selected(self) -> None:
        if self.selected:
            self.want_events([self.selected])
        self.redraw()

    def want_events(self, run_ids: Iterable[str]) -> None:
        """Have these runs' events in memory: the store says which ended runs' events are
        on disk, and the watcher thread reads them (the records fill when they arrive)."""
        on_disk = self.store.want(run_ids)
        if on_disk and self.watcher is not None:
            self.watcher.load(on_disk)

    def redraw(self, panels: tuple[type[Panel], ...] = ALL_PANELS) -> None:
        """Give the panels (all by default) the selected run; each redraws only if what it
        shows changed."""
        if self.store.on_disk(self.selected):
            return  # its events are being read: draw it whole, not empty first
        record = self.record
        with self.app.batch_update():
            for panel in panels:
                self.query_one(panel).draw(record)

    def _redraw_tick(self) -> None:
        self._tick = (self._tick + 1) % len(TICK_GROUPS)
        self.redraw(TICK_GROUPS[self._tick])

    # ---- actions ------------------------------------------------------------------------

    def action_new_run(self) -> None:
        """Open the new-run form; a launched run is selected as soon as it appears."""

        def launched(result: Launched | None) -> None:
            if result is None:
                return
            self._select_when_seen = result.run_dir.name
            if self.watcher is not None:
                self.watcher.adopt(result.process)
                self.watcher.wake()
            self.notify(f"started {result.run_dir.name}", title="New run")

        self.app.push_screen(LaunchForm(self.runs_dir, self.presets_dir), launched)

    def action_stop_run(self) -> None:
        """Ask, then send SIGTERM to the selected run's trainer (on an experiment's row:
        stop the experiment)."""
        experiment = self.query_one(RunsList).selected_experiment
        if experiment is not None:
            stop_from_row(self, self.runs_dir, experiment,
                          self.query_one(RunsList).reread_experiments)
            return
        record = self.record
        if record is None:
            self.notify("no run selected", severity="warning")
            return
        if record.state not in rundir.LIVE_STATES:
            self.notify(f"{record.run_id} is not training ({record.state})",
                        severity="warning")
            return

        def answered(confirmed: bool | None) -> None:
            if not confirmed:
                return
            if stop(record.run_dir):
                self.notify(f"stopping {record.run_id}", title="Stop")
            else:
                self.notify(f"{record.run_id} has no live trainer to stop",
                            severity="warning")
            if self.watcher is not None:
                self.watcher.wake()

        self.app.push_screen(StopConfirm(record.run_id), answered)

    def action_resume_run(self) -> None:
        """Ask, then train the selected ended run on from its last.pt (`train --resume`)."""
        ask_to_resume(self, self.record)

    def on_resume_refused(self, message: ResumeRefused) -> None:
        self.notify(f"{message.run_id}: {message.error}", title="Not resumed",
                    severity="error", timeout=10)

    def action_toggle_log(self) -> None:
        """Put the loss plot's losses on a log axis, or back on a linear one."""
        loss = self.query_one(LossPanel)
        loss.log_y = not loss.log_y
        self.redraw()

    def action_toggle_lr(self) -> None:
        """The learning rate per epoch below the loss, or not."""
        loss = self.query_one(LossPanel)
        loss.show_lr = not loss.show_lr
        self.redraw()

    def action_toggle_boundary(self) -> None:
        """The decision boundary in the gradient panel's place, or the gradients back."""
        boundary = self.query_one(BoundaryPanel)
        boundary.display = not boundary.display
        self.query_one(GradPanel).display = not boundary.display
        self.redraw()
        if boundary.display:  # at 80x24 the panel starts below the fold
            self.call_after_refresh(boundary.scroll_visible, animate=False)

    def action_cycle_grad_view(self) -> None:
        """The gradient panel's views: this epoch's norms, or every epoch's as a heatmap."""
        grads = self.query_one(GradPanel)
        grads.over_time = not grads.over_time
        self.redraw()

    def action_cycle_smoothing(self) -> None:
        """Smooth the loss curves more, then not at all."""
        self.query_one(LossPanel).cycle_smoothing()
        self.redraw()

    def action_toggle_time(self) -> None:
        """The loss plot's x axis: epochs or wall time."""
        loss = self.query_one(LossPanel)
        loss.by_time = not loss.by_time
        self.redraw()

    def action_metrics(self) -> None:
        """The selected run's other per-epoch numbers, one at a time (metrics_panel)."""
        if self.record is None:
            self.notify("no run selected", severity="warning")
            return
        from dmt_tui.app.metrics_panel import MetricsScreen

        self.app.push_screen(MetricsScreen(self.record))

    def action_layer(self, step: int) -> None:
        """Show the previous (-1) or next (+1) layer's histogram of gradient norms."""
        self.query_one(GradPanel).step_layer(step)
        self.redraw()

    # ---- marking, filtering, sorting ------------------------------------------------------

    def action_toggle_mark(self) -> None:
        """Mark or unmark the selected run, for `c` (compare) and `e` (export)."""
        self.query_one(RunsList).toggle_mark()

    def action_cycle_filter(self, step: int = 1) -> None:
        """Show only runs in the next state (f) or the one before (F): all, live, ..."""
        self.query_one(RunsList).cycle_filter(step)

    def action_rename_run(self) -> None:
        """Give the selected run a title (shown for its id) and a note (in the Run panel)."""
        if self._on_experiment_row("name"):
            return
        record = self.record
        if record is None:
            self.notify("no run selected", severity="warning")
            return

        def answered(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            try:
                record.meta = write_meta(record.run_dir, *result)
            except OSError as err:
                self.notify(f"{record.run_dir}: {err.strerror or err}",
                            title="Cannot save the name", severity="error")
                return
            self.query_one(RunsList).show_run(record, force=True)
            self.query_one(RunInfoPanel).forget()
            self.redraw()

        self.app.push_screen(RunNoteDialog(record.run_id, record.title, record.note),
                             answered)

    def action_toggle_sort(self) -> None:
        """Order the list by best validation loss, or by start time."""
        self.query_one(RunsList).toggle_sort()

    # ---- experiments, compare (export and delete: run_files.RunFiles) ---------------------

    def action_new_experiment(self) -> None:
        new_experiment(self)

    def action_experiment(self) -> None:
        open_experiment(self, self.record)

    def action_toggle_experiment(self) -> None:
        """Show an experiment's trials under its row in the list, or hide them again."""
        if not self.query_one(RunsList).toggle_experiment():
            self.notify("not an experiment: its row opens with enter", severity="warning")

    def action_compare(self) -> None:
        """Open the comparison of the marked runs."""
        marked = self.marked_runs()
        if len(marked) < 2:
            self.notify(f"{len(marked)} marked: mark two or more with space",
                        title="Nothing to compare", severity="warning")
            return
        self.want_events(r.run_id for r in marked)  # ended runs' events may be on disk only
        self.app.push_screen(CompareScreen(marked))

