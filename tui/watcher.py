"""The watcher: a plain thread that polls the runs folder and only calls `post_message`.

It reads new run folders and the lines appended to each live run's events.jsonl, and sends
them to the app as plain data (messages.RunUpdate). Finished runs are read once and then left
alone, so a folder of old runs costs one directory listing per poll. A run that had already
ended when first seen sends only its status and config: its events (megabytes for a long
run, tens of MB once parsed) stay on disk until the app asks for them with `load`, so a
folder of fifty long runs opens in a second and costs memory only for the runs looked at.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import Any

import yaml
from textual.message_pump import MessagePump

from dmt_tui import rundir
from dmt_tui.app.history import read_history
from dmt_tui.app.messages import RunsPolled, RunUpdate, WatcherFailed

POLL_S = 0.5  # how often the runs folder is read; the trainer flushes after every line


class _Tail:
    """The watcher's view of one run: where its events.jsonl was read up to."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.events = rundir.EventTail(run_dir / rundir.EVENTS)
        self.status: dict[str, Any] = {}
        self.state = ""
        self.ended = False  # nothing more will come: read no further
        self._saw_end = False
        self._looked_dead = False

    def read(self, first: bool) -> RunUpdate | None:
        status = rundir.read_status(self.run_dir)
        state = rundir.effective_state(status) if status else "starting"
        if first and state in rundir.END_STATES:
            # The trainer writes `end` before the final status.json: every event is on disk,
            # and nothing more will come. Leave them there until the app asks (history()).
            self.ended = True
            self.status, self.state = status, state
            return RunUpdate(self.run_dir, [], status, _read_config(self.run_dir),
                             events_on_disk=True)
        if first:  # a long live run's history: read as the app holds it (history.py)
            return self._first_of_live(status, state)
        events = self.events.read()
        live = state in rundir.LIVE_STATES
        self._saw_end = self._saw_end or any(e.get("type") == "end" for e in events)
        # Done once the end event is in, or when a run without one (crashed) looked dead on
        # two polls in a row: the trainer writes `end` just before status.json, so a poll
        # that races it gets the event on the next one.
        self.ended = not live and (self._saw_end or self._looked_dead)
        self._looked_dead = not live
        if not first and not events and status == self.status and state == self.state:
            return None
        self.status, self.state = status, state
        return RunUpdate(self.run_dir, events, status, _read_config(self.run_dir) if first
                         else None)

    def _first_of_live(self, status: dict[str, Any], state: str) -> RunUpdate:
        history = read_history(self.run_dir / rundir.EVENTS)
        self.events.offset = history.offset  # later polls read only what is appended
        self.events.skipped.extend(history.skipped)
        self._saw_end = any(e.get("type") == "end" for e in history.events)
        self.ended = state not in rundir.LIVE_STATES and self._saw_end
        self._looked_dead = state not in rundir.LIVE_STATES
        self.status, self.state = status, state
        return RunUpdate(self.run_dir, history.events, status, _read_config(self.run_dir),
                         epochs=history.epochs, grads=history.grads)

    @property
    def done(self) -> bool:
        """Nothing more will be appended: the whole history can be read at once."""
        return self.ended or self._saw_end

    def history(self) -> RunUpdate:
        """Every event of an ended run, from the start of the file (the app asked for it)."""
        history = read_history(self.run_dir / rundir.EVENTS)
        return RunUpdate(self.run_dir, history.events, rundir.read_status(self.run_dir),
                         history=True, epochs=history.epochs, grads=history.grads)


# The C loader when PyYAML has it: the pure-Python one takes ~9 ms a config, half a second
# for a folder of fifty runs on the first poll.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_config(run_dir: Path) -> dict[str, Any]:
    try:
        loaded = yaml.load((run_dir / rundir.CONFIG).read_text("utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


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
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._failed = False
        self._wanted: list[str] = []  # ended runs whose events the app asked for

    def run(self) -> None:
        while not self._stopping.is_set():
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
            self._wake.wait(self.interval)
            self._wake.clear()

    def poll(self) -> list[RunUpdate]:
        """Read new run folders and what live runs appended; return what changed."""
        with self._lock:
            forgotten, self._forgotten = self._forgotten, set()
        for run_id in forgotten:
            self._tails.pop(run_id, None)
        updates = []
        if self.runs_dir.is_dir():
            for entry in sorted(self.runs_dir.iterdir()):
                if entry.name in self._tails or not entry.is_dir():
                    continue
                if (entry / rundir.STATUS).exists() or (entry / rundir.EVENTS).exists():
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
