"""Every message that crosses the app: small dataclasses, so what travels is plain to see."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

# Plain data from the watcher to the store; here too, beside the message that carries it.
from dmt_tui.app.store import RunUpdate as RunUpdate


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


@dataclass
class ResumeRefused(Message):
    """A trainer started by `R` exited before it resumed: what it said, in its log."""

    run_id: str
    error: str
