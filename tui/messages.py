"""Every message that crosses the app: small dataclasses, so what travels is plain to see."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message


@dataclass
class RunUpdate:
    """What one run gained since the last poll. Plain data: it crosses from the watcher
    thread to the app, so the app never shares a mutable object with the thread."""

    run_dir: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None  # only with a run's first update
    # An ended run seen for the first time: its events are left on disk (RunsWatcher.load).
    events_on_disk: bool = False
    # `events` is the run's whole history, read again from the start: it replaces what the
    # app held rather than adding to it.
    history: bool = False
    # What could not be read (a config.yaml that is not YAML, a line that is not JSON, a
    # field of the wrong type), when that changed: the app shows it once.
    notes: list[str] = field(default_factory=list)


@dataclass
class RunsPolled(Message):
    """One poll of the runs folder: new runs, new events, changed states."""

    updates: list[RunUpdate]


@dataclass
class WatcherFailed(Message):
    """The runs folder could not be read (gone, no permission): shown, then retried."""

    error: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, WatcherFailed)


@dataclass
class RunGone(Message):
    """A run's folder went away without the app deleting it: the run leaves the list."""

    run_id: str


@dataclass
class RunNotes(Message):
    """Parts of a run's files could not be read: shown once, the run is listed all the same."""

    run_id: str
    notes: list[str]


@dataclass
class RunSelected(Message):
    """The runs list's cursor moved to a run."""

    run_id: str | None
