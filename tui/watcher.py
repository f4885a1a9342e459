"""The watcher: a plain thread that polls the runs folder and only calls `post_message`.

It reads new run folders and the lines appended to each live run's events.jsonl, and sends
them to the app as plain data (messages.RunUpdate). Finished runs are read once and then left
alone, so a folder of old runs costs one directory listing per poll. A run that had already
ended when first seen sends only its status and config: its events (megabytes for a long
run, tens of MB once parsed) stay on disk until the app asks for them with `load`, so a
folder of fifty long runs opens in a second and costs memory only for the runs looked at.
"""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

from textual.message_pump import MessagePump

from dmt_tui import rundir
from dmt_tui.app.history import read_history
from dmt_tui.app.messages import (
    ResumeRefused,
    RunGone,
    RunNotes,
    RunsPolled,
    RunUpdate,
    WatcherFailed,
)
from dmt_tui.rundir.record import read_end_event

POLL_S = 0.5  # how often the runs folder is read; the trainer flushes after every line


class _Tail:
    """The watcher's view of one run: where its events.jsonl was read up to. `process`: a
    trainer the app started to resume this ended run; the run is read as live while it runs,
    and its earlier `end` no longer says that nothing more will come."""

    def __init__(self, run_dir: Path, process: subprocess.Popen[bytes] | None = None) -> None:
        self.run_dir = run_dir
        self.process = process
        self.resumed = False  # the trainer wrote its `resume` event
        self.refusal: str | None = None  # it exited without resuming: what it said
        self.events = rundir.EventTail(run_dir / rundir.EVENTS)
        self.status: dict[str, Any] = {}
        self.state = ""
        self.ended = False  # nothing more will come: read no further
        self._saw_end = False
        self._looked_dead = False
        self._config_note: list[str] = []  # config.yaml is read once, with the first poll
        self._notes: list[str] = []  # the notes last sent

    def read(self, first: bool) -> RunUpdate | None:
        status, status_notes = rundir.run_status(self.run_dir)
        state = rundir.effective_state(status) if status else "starting"
        config, config_note = rundir.read_config(self.run_dir) if first else (None, None)
        if config_note:
            self._config_note = [config_note]
        if first and state in rundir.END_STATES and self.process is None:
            # The trainer writes `end` before the final status.json: every event is on disk,
            # and nothing more will come. Leave them there until the app asks (history()).
            self.ended = True
            self.status, self.state = status, state
            # Epochs and best loss for the list: from status.json, or when it lacks them
            # (an older or killed writer) from the `end` event at the file's end.
            end = {} if "epoch" in status and "best_epoch" in status \
                else read_end_event(self.run_dir)
            return RunUpdate(self.run_dir, [end] if end else [], status, config,
                             events_on_disk=True, notes=self._news(status_notes))
        if first:  # a long live run's history: read as the app holds it (history.py)
            return self._first_of_live(status, state, config, status_notes)
        events = self.events.read()
        live = state in rundir.LIVE_STATES
        self._saw_end = self._saw_end or any(e.get("type") == "end" for e in events)
        self.resumed = self.resumed or any(e.get("type") == "resume" for e in events)
        # Done once the end event is in, or when a run without one looked dead on two polls
        # in a row (the trainer writes `end` just before status.json, so a poll that races
        # it gets the event on the next one) and its process is known to be gone. A run that
        # reads crashed only from a stale heartbeat (no process to ask) is still polled: it
        # may be on another host, or paused, and come back.
        gone = not live and not (state == "crashed" and not _process_gone(status))
        if self.process is not None:
            exit_code = self.process.poll()
            gone = gone and exit_code is not None  # not yet taken over, or just ended
            if exit_code not in (None, 0) and not self.resumed:
                self.refusal = _last_error(self.run_dir / rundir.LOG, exit_code)
                self.process = None  # said once
        self.ended = gone and (self._saw_end or self._looked_dead)
        self._looked_dead = gone
        notes = self._news(status_notes)
        if not first and not events and status == self.status and state == self.state \
                and not notes:
            return None
        self.status, self.state = status, state
        return RunUpdate(self.run_dir, events, status, config, notes=notes)

    def _news(self, status_notes: list[str], skipped: list[str] | None = None) -> list[str]:
        """The run's notes (config, status, skipped lines) when they changed, else []."""
        lines = self.events.skipped if skipped is None else skipped
        notes = [*self._config_note, *status_notes, *lines]
        if notes == self._notes or not notes:
            return []
        self._notes = notes
        return notes

    def _first_of_live(self, status: dict[str, Any], state: str, config: dict[str, Any] | None,
                       status_notes: list[str]) -> RunUpdate:
        history = read_history(self.run_dir / rundir.EVENTS)
        self.events.offset = history.offset  # later polls read only what is appended
        self.events.skipped.extend(history.skipped)
        resuming = self.process is not None  # its old `end` is not the last word
        self._saw_end = not resuming and any(e.get("type") == "end" for e in history.events)
        self.ended = state not in rundir.LIVE_STATES and self._saw_end
        self._looked_dead = state not in rundir.LIVE_STATES and not resuming
        self.status, self.state = status, state
        return RunUpdate(self.run_dir, history.events, status, config,
                         epochs=history.epochs, grads=history.grads,
                         notes=self._news(status_notes))

    @property
    def done(self) -> bool:
        """Nothing more will be appended: the whole history can be read at once."""
        return self.ended or self._saw_end

    def history(self) -> RunUpdate:
        """Every event of an ended run, from the start of the file (the app asked for it)."""
        history = read_history(self.run_dir / rundir.EVENTS)
        return RunUpdate(self.run_dir, history.events, rundir.run_status(self.run_dir)[0],
                         history=True, epochs=history.epochs, grads=history.grads,
                         notes=self._news([], history.skipped))


def _last_error(log: Path, exit_code: int) -> str:
    """The trainer's last `dmt-tui: error:` line in its log (a refusal says why there)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        lines = []
    errors = [line.removeprefix("dmt-tui: error: ") for line in lines
              if line.startswith("dmt-tui: error: ")]
    return errors[-1] if errors else f"the trainer exited with code {exit_code}; see {log}"


def _process_gone(status: dict[str, Any]) -> bool:
    """Whether status.json names a process on this host that no longer runs."""
    pid = status.get("pid")
    same_host = status.get("host") in (None, socket.gethostname())
    return isinstance(pid, int) and same_host and not rundir.pid_alive(pid)


class RunsWatcher(threading.Thread):
    """Polls `runs_dir` every POLL_S seconds and posts RunsPolled to `target`."""

    def __init__(self, runs_dir: Path, target: MessagePump, interval: float = POLL_S) -> None:
        super().__init__(name="runs-watcher", daemon=True)
        self.runs_dir = runs_dir
        self.target = target
        self.interval = interval
        self._tails: dict[str, _Tail] = {}
        self._children: list[subprocess.Popen[bytes]] = []
        self._forgotten: set[str] = set()  # deleted runs, dropped by the thread's next poll
        self._resumed: dict[str, subprocess.Popen[bytes]] = {}  # runs `R` started again
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._failed = False
        self._wanted: list[str] = []  # ended runs whose events the app asked for

    def run(self) -> None:
        while not self._stopping.is_set():
            # Cleared before the poll, not after the wait: a wake() that comes while this
            # poll runs makes the wait below return at once, for one more poll.
            self._wake.clear()
            self._reap_children()
            try:
                updates = self.poll()
            except OSError as err:
                if not self._failed:
                    self.target.post_message(WatcherFailed(f"{self.runs_dir}: {err}"))
                self._failed = True
            else:
                self._failed = False
                if updates:
                    self.target.post_message(RunsPolled(updates))
                for update in updates:
                    if update.notes:
                        self.target.post_message(RunNotes(update.run_dir.name, update.notes))
            self._wake.wait(self.interval)

    def poll(self) -> list[RunUpdate]:
        """Read new run folders and what live runs appended; return what changed."""
        with self._lock:
            forgotten, self._forgotten = self._forgotten, set()
            resumed, self._resumed = self._resumed, {}
        for run_id in forgotten:
            self._tails.pop(run_id, None)
        updates = []
        for run_id, process in resumed.items():
            if run_id in self._tails:  # read again from the start, as a live run
                tail = self._tails[run_id] = _Tail(self._tails[run_id].run_dir, process)
                update = tail.read(first=True)
                if update is not None:
                    updates.append(update)
        entries = sorted(self.runs_dir.iterdir()) if self.runs_dir.is_dir() else []
        names = {entry.name for entry in entries}
        for run_id in [r for r in self._tails if r not in names]:
            # Deleted from outside the app (a shell, another app): say so once.
            del self._tails[run_id]
            self.target.post_message(RunGone(run_id))
        for entry in entries:
            if entry.name in self._tails or not rundir.is_run_dir(entry):
                continue
            self._tails[entry.name] = tail = _Tail(entry)
            first = tail.read(first=True)
            if first is not None:
                updates.append(first)
        for tail in self._tails.values():
            if tail.ended:
                continue
            update = tail.read(first=False)
            if update is not None:
                updates.append(update)
            if tail.refusal is not None:
                self.target.post_message(ResumeRefused(tail.run_dir.name, tail.refusal))
                tail.refusal = None
        with self._lock:
            wanted, self._wanted = self._wanted, []
        for run_id in wanted:
            asked = self._tails.get(run_id)
            if asked is not None and asked.done:
                updates.append(asked.history())
        return updates

    def load(self, run_ids: list[str]) -> None:
        """Read all of these ended runs' events now and send them (RunUpdate.history). A
        request replaces the one before: scrolling through the list wants the run it stops
        on, not every run it passed."""
        with self._lock:
            self._wanted = list(run_ids)
        self._wake.set()

    def adopt(self, process: subprocess.Popen[bytes]) -> None:
        """Reap a trainer this app launched when it exits: an unreaped child stays a zombie,
        and a zombie's pid looks alive, which would hide a crash."""
        with self._lock:
            self._children.append(process)

    def _reap_children(self) -> None:
        with self._lock:
            self._children = [p for p in self._children if p.poll() is None]

    def resume(self, run_id: str, process: subprocess.Popen[bytes]) -> None:
        """Read an ended run again, as live, while `process` (its resumed trainer) runs;
        reap that process when it exits."""
        with self._lock:
            self._children.append(process)
            self._resumed[run_id] = process
        self._wake.set()

    def forget(self, run_id: str) -> None:
        """Stop reading a deleted run. The thread drops it itself: only it touches the
        tails, so the UI thread never changes them under its feet."""
        with self._lock:
            self._forgotten.add(run_id)

    def wake(self) -> None:
        """Poll now rather than at the next tick (after a launch or a stop)."""
        self._wake.set()

    def stop(self) -> None:
        """End the thread and wait for it (it sleeps at most POLL_S)."""
        self._stopping.set()
        self._wake.set()
        if self.is_alive():
            self.join(timeout=5)
