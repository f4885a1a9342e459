"""The dmt-tui app: a monitor screen over a runs folder. Screens own their work; this file
only wires them up, and says how many runs are still training when it closes."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from textual.actions import ActionParseResult
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.screen import Screen
from textual.worker import WorkerFailed

from dmt_tui import rundir
from dmt_tui.app.compare_screen import CompareScreen
from dmt_tui.app.confirm import DeleteConfirm, ResumeConfirm, StopConfirm
from dmt_tui.app.experiment_form import ExperimentForm
from dmt_tui.app.experiment_view import ExperimentScreen
from dmt_tui.app.guard import report_error, write_crash_log
from dmt_tui.app.help_screen import HelpScreen, binding_commands
from dmt_tui.app.launch_form import LaunchForm
from dmt_tui.app.messages import RunNotes
from dmt_tui.app.monitor import MonitorScreen
from dmt_tui.presets import user_presets_dir

FREEZE_AFTER_S = 2.0  # after the first screen and the newest run's events are in


class DmtApp(App[None]):
    """Train small models on this machine and watch them learn.

    `freeze_after_s`: that long after start, move every object alive into the garbage
    collector's permanent generation (`gc.freeze`). The `dmt-tui` command does; tests that
    build apps in one process do not, since each frozen app would never be collected."""

    CSS_PATH = "app.tcss"
    TITLE = "dmt-tui"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Keys", key_display="?", id="app.help"),
    ]

    def __init__(self, runs_dir: Path, presets_dir: Path | None = None,
                 freeze_after_s: float | None = None) -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.presets_dir = presets_dir
        self.freeze_after_s = freeze_after_s
        self.crash_log: Path | None = None  # where the error that ended the app was written

    async def run_action(self, action: str | ActionParseResult,
                         default_namespace: DOMNode | None = None,
                         namespaces: Mapping[str, DOMNode] | None = None) -> bool:
        """Every key's action, on any screen: an error in one is shown, not fatal."""
        try:
            return await super().run_action(action, default_namespace, namespaces)
        except Exception as error:  # noqa: BLE001 - shown and logged by report_error
            report_error(self, f"key action {action if isinstance(action, str) else ''}",
                         error)
            return True

    def _handle_exception(self, error: Exception) -> None:
        """Textual's last resort. A failed background task is reported and the app goes
        on; anything else ends the app as Textual would, but with the traceback in a crash
        log in the runs folder instead of on the screen (run_app names the file)."""
        if isinstance(error, WorkerFailed):
            report_error(self, "a background task", error.error)
            return
        if self.crash_log is None:
            self.crash_log = write_crash_log(self, error)
        # What App._handle_exception does, less the traceback printed on exit: a non-zero
        # return code, the error kept for run_test to raise, and the app closed.
        self._return_code = 1
        if self._exception is None:
            self._exception = error
            self._exception_event.set()
        self._close_messages_no_wait()

    def on_run_notes(self, message: RunNotes) -> None:
        """Some of a run's files could not be read: say what once; the run is listed."""
        shown = "\n".join(message.notes[:3])
        more = f"\n(and {len(message.notes) - 3} more)" if len(message.notes) > 3 else ""
        self.notify(f"{message.run_id}\n{shown}{more}"[:600], title="Read in part",
                    severity="warning", timeout=10)

    def on_mount(self) -> None:
        if self.freeze_after_s is not None:
            self.set_timer(self.freeze_after_s, freeze_startup_objects)

    def get_default_screen(self) -> Screen[None]:
        return MonitorScreen(self.runs_dir, self.presets_dir)

    def action_help(self) -> None:
        """Every key of the app, screen by screen."""
        if isinstance(self.screen, HelpScreen):
            return
        # The keys that work everywhere first and the plots' view keys in the second column,
        # so that at 80x24 the first column fits whole; the second scrolls.
        views = [b for b in MonitorScreen.BINDINGS
                 if isinstance(b, Binding) and b.id in MonitorScreen.VIEW_KEYS]
        self.push_screen(HelpScreen(
            [("Everywhere", [*self.BINDINGS, Binding("ctrl+p", "command_palette",
                                                     "Command palette")]),
             ("Runs and panels", [
                Binding("up,down", "", "Select a run", key_display="↑ ↓"),
                *[b for b in MonitorScreen.BINDINGS if b not in views],
                Binding("tab", "", "Next panel")])],
            [("Views", views),
             ("Comparison", CompareScreen.BINDINGS),
             ("New-run form", [*LaunchForm.BINDINGS,
                               Binding("space", "", "Open a choice list")]),
             ("Stop confirmation", StopConfirm.BINDINGS),
             ("Delete confirmation", DeleteConfirm.BINDINGS),
             ("Resume confirmation", [
                Binding("0-9", "", "Epochs in all", key_display="0-9"),
                *ResumeConfirm.BINDINGS, Binding("enter", "", "Resume the run")]),
             ("Experiment view", ExperimentScreen.BINDINGS),
             ("New-experiment form", ExperimentForm.BINDINGS[:2])],
        ))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers the screen's keys beside Textual's own commands, from
        the bindings themselves, and `?` on every screen ("All keys": Textual's own "Keys"
        is its key panel)."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, MonitorScreen | CompareScreen):
            yield from binding_commands(screen, screen.BINDINGS, self.get_key_display)
        help_keys = [b for b in self.BINDINGS if isinstance(b, Binding) and b.action == "help"]
        yield from binding_commands(self, help_keys, self.get_key_display, {"help": "All keys"})


def freeze_startup_objects() -> None:
    """Leave what the app built to start (Python's and Textual's modules, classes, caches,
    the screens: about 85,000 objects) out of every later full garbage collection. Those
    collections stop the event loop while they walk every tracked object; under eight live
    runs they came every few seconds and took up to 85 ms, 43 ms once these were frozen.
    Frozen objects are still freed when nothing refers to them; only a cycle among them
    that is dropped later is never collected, and the collection first clears what is
    already garbage."""
    gc.collect()
    gc.freeze()


def still_training(runs_dir: Path) -> int:
    """How many runs under `runs_dir` are alive (reads status files only)."""
    statuses = (rundir.read_status(d) for d in rundir.iter_run_dirs(runs_dir))
    return sum(1 for s in statuses if s and rundir.effective_state(s) in rundir.LIVE_STATES)


def goodbye(runs_dir: Path) -> str:
    """What the app says as it closes: quitting never stops a run, so say how many go on."""
    live = still_training(runs_dir)
    if not live:
        return "no runs are training."
    return (f"{live} run{'s' if live != 1 else ''} still training in {runs_dir}; "
            f"`dmt-tui --runs-dir {runs_dir}` shows {'them' if live != 1 else 'it'} again.")


def run_app(runs_dir: Path, presets_dir: str | None) -> int:
    """Run the app until the user quits; then say which runs keep training. An error that
    ended it is named in one line (the traceback is in the crash log), with exit status 1."""
    app = DmtApp(runs_dir, user_presets_dir(presets_dir), freeze_after_s=FREEZE_AFTER_S)
    try:
        app.run()
    except Exception as error:  # noqa: BLE001 - outside Textual's loop: same report
        app.crash_log = app.crash_log or write_crash_log(app, error)
        app._return_code = 1
    if app.return_code:
        where = f"; the traceback is in {app.crash_log}" if app.crash_log else ""
        print(f"dmt-tui: the app stopped on an unexpected error{where}", file=sys.stderr)
        return 1
    print(goodbye(runs_dir))
    return 0
