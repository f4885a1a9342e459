"""`R`: train an ended run on from its last.pt, as `dmt-tui train --resume RUN_ID [--set
train.epochs=N]` does: the question asks for the epochs in all.

What the trainer would refuse is refused here first, with the reason, since a trainer started
in the background can only say so in its log: a live run, a run without last.pt; epochs not
above those already trained are refused by the question itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmt_tui import rundir
from dmt_tui.app.confirm import ResumeConfirm
from dmt_tui.rundir.launch import resume
from dmt_tui.rundir.record import RunRecord

if TYPE_CHECKING:
    from dmt_tui.app.monitor import MonitorScreen


def resume_refusal(record: RunRecord | None) -> str | None:
    """Why the selected run cannot be resumed from the app, or None when it can. Reads the
    run's status.json again: it may have changed since the list was drawn."""
    if record is None:
        return "no run selected"
    run_id, run_dir = record.run_id, record.run_dir
    status = rundir.read_status(run_dir)
    state = rundir.effective_state(status) if status else record.state
    if state in rundir.LIVE_STATES or record.state in rundir.LIVE_STATES:
        return f"{run_id} is {state}: only a run that has ended can be resumed"
    if rundir.trainer_alive(status):
        return f"{run_id}: its trainer (pid {status.get('pid')}) is still running"
    if not (run_dir / rundir.LAST).is_file():
        return (f"{run_id} has no {rundir.LAST} to resume from (it ended before its first "
                f"checkpoint, or was trained before runs kept one)")
    return None


def epochs_offered(record: RunRecord) -> int:
    """The epochs the question starts from: the planned total, or twice it for a run that
    has trained them all (always above the epochs trained, which the trainer requires)."""
    total = record.epochs_total
    return total if total > record.epoch else max(2 * total, record.epoch + 1)


def ask_to_resume(screen: MonitorScreen, record: RunRecord | None) -> None:
    """`R` on the monitor: refuse with a note, or ask, then start the trainer and have the
    watcher read the run as live again."""
    refusal = resume_refusal(record)
    if record is None or refusal:
        screen.notify(refusal or "", title="Not resumed", severity="warning")
        return

    def answered(epochs: int | None) -> None:
        refusal = resume_refusal(record) if epochs else None  # asked again: it may have
        if not epochs or refusal:  # been resumed from a shell while the question was up
            if refusal:
                screen.notify(refusal, title="Not resumed", severity="warning")
            return
        try:
            process = resume(record.run_dir, epochs)
        except rundir.RunDirError as err:
            screen.notify(str(err), title="Not resumed", severity="error")
            return
        if screen.watcher is not None:
            screen.watcher.resume(record.run_id, process)
        screen.notify(f"resuming {record.run_id} to epoch {epochs}", title="Resume")

    screen.app.push_screen(ResumeConfirm(record.run_id, record.state, record.epoch,
                                         record.epochs_total, epochs_offered(record)), answered)
