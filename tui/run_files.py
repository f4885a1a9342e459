"""The monitor's keys that act on runs' files: `e` exports the marked runs (or else the
selected one) after a dialog that names them, `d` deletes the selected ended run after
asking. Both write or remove in a thread. MonitorScreen inherits them, with the selection
they act on (`selected`, `record`, `marked_runs`)."""

from __future__ import annotations

import importlib.util
import shutil
import time
from pathlib import Path

from textual import work
from textual.reactive import reactive
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from dmt_tui import rundir
from dmt_tui.app.confirm import DeleteConfirm, ExportDialog
from dmt_tui.app.guard import guard_handlers
from dmt_tui.app.runs_list import RunsList
from dmt_tui.app.store import RunStore
from dmt_tui.app.watcher import RunsWatcher
from dmt_tui.rundir.record import RunRecord

# What `e` offers: (format, the module it needs, what installs it); csv and jsonl are ticked.
EXPORT_FORMATS = [("csv", "pandas", ""), ("jsonl", "json", ""),
                  ("parquet", "pyarrow", "pip install 'dmt-tui[parquet]'"),
                  ("tensorboard", "tensorboard", "pip install 'dmt-tui[tensorboard]'")]
EXPORTS_DIR = "exports"  # under the working directory, as `dmt-tui export` writes by default


def export_folder(run_ids: list[str], now: float | None = None) -> Path:
    """Where `e` writes: ./exports/<run id> for one run, ./exports/<time>-<n>-runs for
    several, so a second export does not overwrite the first one's metrics.csv."""
    if len(run_ids) == 1:
        return Path.cwd() / EXPORTS_DIR / run_ids[0]
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path.cwd() / EXPORTS_DIR / f"{stamp}-{len(run_ids)}-runs"


@guard_handlers()
class RunFiles(Screen[None]):
    """The selection, and export and delete on it; the monitor fills `store` and `watcher`."""

    selected: reactive[str | None] = reactive(None)
    store: RunStore
    watcher: RunsWatcher | None

    @property
    def record(self) -> RunRecord | None:
        """The selected run."""
        return self.store.get(self.selected)

    def marked_runs(self) -> list[RunRecord]:
        """The marked runs, oldest first."""
        return self.store.in_order(self.query_one(RunsList).marked)

    def _on_experiment_row(self, what: str) -> bool:
        """On an experiment's row, a key meant for one run says to pick a trial first."""
        if self.query_one(RunsList).selected_experiment is None:
            return False
        self.notify(f"an experiment's row: enter opens it, then pick the trial to {what}",
                    severity="warning")
        return True

    def action_export(self) -> None:
        """Export the marked runs, or else the selected one, after a dialog that names them
        and asks for the formats."""
        marked = self.marked_runs()
        records = marked or ([self.record] if self.record else [])
        if not records:
            self.notify("no run to export", severity="warning")
            return
        run_ids = [r.run_id for r in records]
        plural = "s" if len(run_ids) != 1 else ""
        what = f"the {len(run_ids)} marked run{plural}" if marked else "the selected run"
        if marked and self.selected not in run_ids:
            what += f" (not the selected {self.selected}: space marks it)"
        out_dir = export_folder(run_ids)
        formats = [(name, importlib.util.find_spec(module) is not None,
                    hint) for name, module, hint in EXPORT_FORMATS]

        def answered(chosen: list[str] | None) -> None:
            if not chosen:
                return
            self.notify(f"exporting {len(run_ids)} run{plural} ...", title="Export",
                        timeout=2)
            self.export_runs([r.run_dir for r in records], out_dir, chosen)

        self.app.push_screen(ExportDialog(what, run_ids, str(out_dir), formats), answered)

    @work(thread=True, group="export", exit_on_error=False, description="export runs")
    def export_runs(self, run_dirs: list[Path], out_dir: Path, formats: list[str]) -> None:
        """Write the runs' files in a thread: pandas and the disk stay off the UI thread."""
        from dmt_tui.rundir.export import ExportError, export_runs  # pandas loads only on export

        # Read afresh: the app's own records change on the UI thread as events arrive.
        records = [RunRecord.load(run_dir) for run_dir in run_dirs]
        try:
            written = export_runs(records, formats, out_dir, say=lambda _line: None)
        except ExportError as err:
            self.app.call_from_thread(self.notify, str(err), title="Export failed",
                                      severity="error", timeout=10)
            return
        names = [p.name for p in written]
        listed = "\n".join(names[:4]) + (f"\nand {len(names) - 4} more" if len(names) > 4
                                          else "")
        self.app.call_from_thread(
            self.notify, f"{out_dir}\n{listed}", timeout=10,
            title=f"Exported {len(records)} run{'s' if len(records) != 1 else ''} to")

    def action_delete_run(self) -> None:
        """Ask, then delete the selected run's folder; a live run is refused."""
        if self._on_experiment_row("delete"):
            return
        record = self.record
        if record is None:
            self.notify("no run selected", severity="warning")
            return
        if record.state in rundir.LIVE_STATES:
            self.notify(f"{record.run_id} is {record.state}: stop it first (s), then delete",
                        title="Not deleted", severity="warning")
            return

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.delete_run(record.run_dir)

        self.app.push_screen(DeleteConfirm(record.run_id, str(record.run_dir)), answered)

    @work(thread=True, group="delete", exit_on_error=False, description="delete a run folder")
    def delete_run(self, run_dir: Path) -> None:
        """Remove the folder in a thread: a big checkpoint on a slow disk takes a while."""
        status = rundir.read_status(run_dir)
        if status.get("state") in rundir.LIVE_STATES and rundir.trainer_alive(status):
            self.app.call_from_thread(self.notify, f"{run_dir.name}: its trainer is alive",
                                      title="Not deleted", severity="warning")
            return
        try:
            shutil.rmtree(run_dir)
        except FileNotFoundError:
            pass  # gone already (deleted from a shell): forget it all the same
        except OSError as err:
            self.app.call_from_thread(self.notify, f"{run_dir}: {err.strerror or err}",
                                      title="Cannot delete", severity="error")
            return
        self.app.call_from_thread(self._forget_run, run_dir.name)

    def _forget_run(self, run_id: str) -> None:
        self.store.forget(run_id)
        if self.watcher is not None:
            self.watcher.forget(run_id)
        self.query_one(RunsList).remove_run(run_id)
        self.notify(f"deleted {run_id}", title="Delete")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed in a way not foreseen above still says so, in a toast."""
        worker = event.worker
        if event.state == WorkerState.ERROR and worker.group in ("export", "delete"):
            self.notify(f"{worker.description} failed: {worker.error}", severity="error")
