"""What a reader knows of one run, built up from its events: torch-free, shared by the app,
`dmt-tui runs` and `dmt-tui export`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmt_tui import rundir
from dmt_tui.rundir.fields import clean_event, is_int
from dmt_tui.rundir.meta import read_meta


@dataclass
class RunRecord:
    """One run as its files describe it. `update()` reads only what was appended since."""

    run_dir: Path
    config: dict[str, Any] = field(default_factory=dict)
    start: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)  # `epoch` events in order
    grads: list[dict[str, Any]] = field(default_factory=list)  # `grad` events in order
    progress: dict[str, Any] = field(default_factory=dict)  # the latest `progress` event
    boundary: dict[str, Any] = field(default_factory=dict)  # the latest `boundary`, with points
    end: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, str] | None = None  # title and note (meta.json); read when first asked

    def __post_init__(self) -> None:
        self._tail = rundir.EventTail(self.run_dir / rundir.EVENTS)
        self._config_note: str | None = None
        self._status_notes: list[str] = []

    @property
    def run_id(self) -> str:
        return self.run_dir.name

    @classmethod
    def load(cls, run_dir: Path) -> RunRecord:
        record = cls(run_dir)
        record.update()
        return record

    def read_on_from(self, offset: int, skipped: list[str]) -> None:
        """Let `update()` read events.jsonl from `offset` on: what came before was read
        another way (the app's slim history), with these notes on lines it skipped."""
        self._tail.offset = offset
        self._tail.skipped.extend(skipped)

    def update(self) -> list[dict[str, Any]]:
        """Read new events and the status; return the new events."""
        if not self.config:
            self.config, self._config_note = rundir.read_config(self.run_dir)
        # status.json first: a trainer writes its `end` event before its last status, so a
        # status that says the run ended never comes without the events read after it (read
        # the other way round, a run ending between the two reads was taken as ended with
        # the epochs it had, and a reader that stops updating ended runs kept those)
        self.status, self._status_notes = rundir.run_status(self.run_dir)
        events = self._tail.read()
        for event in events:
            self.apply(event)
        self.notes = [*([self._config_note] if self._config_note else []),
                      *self._status_notes, *self._tail.skipped]
        if self._tail.torn_tail() and self.state not in rundir.LIVE_STATES:
            # a live writer may be mid-line; a dead one left this line torn for good
            self.notes.append(f"{self._tail.path}: skipped a torn last line")
        return events

    def apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "start":
            self.start = event
        elif kind == "epoch":
            self.epochs.append(event)
        elif kind == "grad":
            self.grads.append(event)
        elif kind == "progress":
            self.progress = event
        elif kind == "boundary":  # only the first carries the data points: keep them
            self.boundary = {**event, "points": event.get("points")
                             or self.boundary.get("points")}
        elif kind == "end":
            self.end = event
        elif kind == "resume":  # trained on from its checkpoint's epoch: later ones come again
            after = event.get("epoch", 0)
            self.end = {}
            self.epochs = [e for e in self.epochs if e.get("epoch", 0) <= after]
            self.grads = [g for g in self.grads if g.get("epoch", 0) <= after]

    # ---- what the readers show --------------------------------------------------------------

    @property
    def state(self) -> str:
        if self.end:
            return str(self.end.get("state", "failed"))
        return rundir.effective_state(self.status) if self.status else "starting"

    @property
    def name(self) -> str:
        name = self.config.get("name")
        return name if isinstance(name, str) and name else str(self.start.get("preset")
                                                                 or self.run_id)

    @property
    def epochs_total(self) -> int:
        """The epochs the run trains to: status.json's, the trainer's latest word (a run
        resumed with more epochs says so there at once, while config.yaml is read once), or
        config.yaml's where status.json has none."""
        for epochs in (self.status.get("epochs"), self.setting("train.epochs")):
            if is_int(epochs) and epochs > 0:
                return int(epochs)
        return 0

    @property
    def epoch(self) -> int:
        """The latest epoch; from status.json when the events are not read (the app leaves
        an ended run's events on disk until it is looked at)."""
        if self.epochs:
            return int(self.epochs[-1]["epoch"])  # a whole number: fields.clean_event
        for epoch in (self.status.get("epoch"), self.end.get("epochs")):
            if is_int(epoch):
                return int(epoch)
        return 0

    @property
    def best(self) -> tuple[int | None, float | None]:
        """(epoch, val_loss) of the best epoch so far (status.json's when no event says)."""
        if self.end.get("best_epoch"):
            return self.end["best_epoch"], self.end.get("best_val_loss")
        if self.epochs:
            last = self.epochs[-1]
            if last.get("es_best_epoch"):
                return last["es_best_epoch"], last.get("es_best")
        if self.status.get("best_epoch"):
            return self.status["best_epoch"], self.status.get("best_val_loss")
        return None, None

    @property
    def title(self) -> str:
        """What the user called the run in the app (`r`), or ''."""
        if self.meta is None:
            self.meta = read_meta(self.run_dir)
        return self.meta["title"]

    @property
    def note(self) -> str:
        """The user's note on the run, or ''."""
        if self.meta is None:
            self.meta = read_meta(self.run_dir)
        return self.meta["note"]

    @property
    def started(self) -> float | None:
        return self.start.get("time") or self.status.get("started")

    @property
    def duration(self) -> float | None:
        began = self.started
        if began is None:
            return None
        ended = self.end.get("time") or self.status.get("updated")
        return max(0.0, float(ended) - float(began)) if ended else None

    @property
    def layer_names(self) -> list[str]:
        return list(self.start.get("layers") or [])

    def setting(self, dotted: str) -> Any:
        section, _, key = dotted.partition(".")
        value = self.config.get(section)
        return value.get(key) if isinstance(value, dict) else value


def load_runs(runs_dir: Path) -> list[RunRecord]:
    """Every run under `runs_dir`, oldest first."""
    return [RunRecord.load(d) for d in rundir.iter_run_dirs(runs_dir)]


END_TAIL_BYTES = 65536  # an `end` event is a few hundred bytes; grad events before it are big


def read_end_event(run_dir: Path) -> dict[str, Any]:
    """A run's `end` event read from the end of events.jsonl without reading the rest
    (megabytes for a long run), or {} when the last lines hold none."""
    try:
        with (run_dir / rundir.EVENTS).open("rb") as file:
            file.seek(0, 2)
            size = file.tell()
            file.seek(max(0, size - END_TAIL_BYTES))
            lines = file.read().splitlines()
    except OSError:
        return {}
    for line in reversed(lines):
        if b'"end"' not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("type") == "end":
            return clean_event(event, str(run_dir / rundir.EVENTS), []) or {}
    return {}
