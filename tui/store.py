"""The runs as the app knows them: records by id, kept up from the watcher's updates, with
only the events that are looked at held in memory. No Textual here (an import-linter
contract says so): the screens draw and dispatch, and this is tested without a pilot.

An ended run's events are held only while it is looked at (`want`): the watcher leaves them
on disk until then, and they are dropped again once `keep_events` other runs were looked at.
An `epoch` or `grad` event is held whole only while it is the newest: older ones keep what
the plots read (`slim_epoch`, `slim_grad`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dmt_tui.rundir.record import RunRecord

# Ended runs whose events stay in memory after being looked at: the selected one and the one
# before, so going back and forth is instant; the others are read again when selected, so
# memory grows with the runs looked at now, not with the runs looked at since the start
# (bench/app_long_run.py measures the app's peak RSS on long runs and 1,000-run folders).
KEEP_EVENTS = 2


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
    # Read by history.read_history: the run's epochs and grads so far, already slim; they
    # replace the record's lists (`events` then holds only start, progress and end).
    epochs: list[dict[str, Any]] | None = None
    grads: list[dict[str, Any]] | None = None
    # What could not be read (a config.yaml that is not YAML, a line that is not JSON, a
    # field of the wrong type), when that changed: the app shows it once (RunNotes).
    notes: list[str] = field(default_factory=list)


@dataclass
class Applied:
    """What one poll changed: the records to show again, and the runs whose whole history
    has just arrived (to draw now rather than at the next redraw tick)."""

    changed: list[RunRecord] = field(default_factory=list)
    histories: set[str] = field(default_factory=set)


def total_mean(grad: dict[str, Any]) -> Any:
    """The whole model's mean gradient norm in a `grad` event, whole or slim (None when it
    lacks one)."""
    if "total_mean" in grad:
        return grad["total_mean"]
    total = grad.get("total")
    return total.get("mean") if isinstance(total, dict) else None


def layer_means(grad: dict[str, Any]) -> tuple[Any, ...]:
    """Each layer's mean norm in a `grad` event, whole or slim, input to output."""
    means = grad.get("means")
    if isinstance(means, tuple | list):
        return tuple(means)
    layers = grad.get("layers")
    if not isinstance(layers, list):
        return ()
    return tuple(x.get("mean") if isinstance(x, dict) else None for x in layers)


# An `epoch` event's fields that no panel reads of a past epoch (the newest is held whole).
EPOCH_UNPLOTTED = frozenset({"es_wait", "es_patience", "es_best", "es_best_epoch", "threads"})
EPOCH_PLOTTED = frozenset({"type", "epoch", "train_loss", "val_loss", "train_acc", "val_acc",
                           "lr", "seconds", "time"}) | EPOCH_UNPLOTTED


def slim_epoch(epoch: dict[str, Any]) -> dict[str, Any]:
    """What the panels read of an `epoch` event that is not the newest: the loss plot's
    series, and the Metrics view's (accuracy, epoch time, a script's own numbers). Half its
    memory or less (~350 bytes against ~950 parsed whole), and untracked by the garbage
    collector (numbers only)."""
    get = epoch.get  # a literal, not a loop over field names: this runs once an epoch
    slim = {"type": "epoch", "epoch": get("epoch"), "train_loss": get("train_loss"),
            "val_loss": get("val_loss"), "train_acc": get("train_acc"),
            "val_acc": get("val_acc"), "lr": get("lr"), "seconds": get("seconds"),
            "time": get("time")}  # the lr plot and the wall-time axis
    if epoch.keys() - EPOCH_PLOTTED:  # a script's own metrics (dmt_tui.Run), in its order
        for name, value in epoch.items():
            if name not in EPOCH_PLOTTED and isinstance(value, int | float):
                slim[name] = value
    return slim


def slim_grad(grad: dict[str, Any]) -> dict[str, Any]:
    """What the panels still read of a `grad` event once a newer one is in: its epoch and
    the whole model's mean norm (the total-norm plot; only the newest event's layers are
    drawn), read with `total_mean`. Whole, each is a dozen lists of histograms: tens of MB
    over a long run, and objects that Python's garbage collector walks at every full
    collection (pauses of ~150 ms after a minute of eight live runs). Flat, with numbers
    only, the collector does not track it at all."""
    return {"type": "grad", "epoch": grad.get("epoch"), "total_mean": total_mean(grad),
            "means": layer_means(grad)}  # a tuple of numbers: the heatmap's column


class RunStore:
    """Every run seen in the runs folder, by id, and which ended runs' events are held."""

    def __init__(self, keep_events: int = KEEP_EVENTS) -> None:
        self.records: dict[str, RunRecord] = {}
        self.keep_events = keep_events
        self._on_disk: set[str] = set()  # ended runs whose events were not read
        self._wanted: list[str] = []  # runs looked at, the latest first
        self._deleted: set[str] = set()

    def get(self, run_id: str | None) -> RunRecord | None:
        """The run's record, or None (no id, or a run not seen)."""
        return self.records.get(run_id) if run_id else None

    def newest(self) -> str | None:
        """The newest run's id: ids start with the start time."""
        return max(self.records, default=None)

    def apply(self, updates: Iterable[RunUpdate]) -> Applied:
        """Take one poll of the watcher into the records."""
        applied = Applied()
        for update in updates:
            run_id = update.run_dir.name
            if run_id in self._deleted:  # a poll that raced the delete
                continue
            record = self.records.get(run_id)
            if record is None:
                record = self.records[run_id] = RunRecord(update.run_dir)
            if update.config is not None:
                record.config = update.config
            if update.events_on_disk:
                self._on_disk.add(run_id)
            if update.history:
                if run_id not in self._wanted:  # asked for, then scrolled past
                    continue
                record.epochs.clear()  # the whole history: it replaces, not adds
                record.grads.clear()
                self._on_disk.discard(run_id)
                applied.histories.add(run_id)
            if update.epochs is not None:  # a whole history: it says how the run ended, if
                record.epochs = update.epochs  # it has (a resumed run's old `end` is gone)
                record.end = {}
                self._on_disk.discard(run_id)
            if update.grads is not None:
                record.grads = update.grads
            epochs, grads = len(record.epochs), len(record.grads)
            for event in update.events:
                record.apply(event)
            for i in range(max(0, epochs - 1), len(record.epochs) - 1):
                record.epochs[i] = slim_epoch(record.epochs[i])  # only the newest is read whole
            for i in range(max(0, grads - 1), len(record.grads) - 1):
                record.grads[i] = slim_grad(record.grads[i])  # only the newest is drawn whole
            record.status = update.status
            applied.changed.append(record)
        return applied

    def want(self, run_ids: Iterable[str]) -> list[str]:
        """Have these runs' events in memory; return those to read from disk (ended runs
        seen but not read). Ended runs looked at longer ago than the last `keep_events`
        (or than this request) drop theirs."""
        wanted = list(dict.fromkeys(run_ids))
        self._wanted = wanted + [r for r in self._wanted if r not in wanted]
        keep = max(self.keep_events, len(wanted))
        for run_id in self._wanted[keep:]:
            record = self.records.get(run_id)
            if record is not None and record.end:  # `end` read: nothing more will come
                record.epochs.clear()
                record.grads.clear()
                self._on_disk.add(run_id)
        del self._wanted[keep:]
        return [r for r in wanted if r in self._on_disk]

    def on_disk(self, run_id: str | None) -> bool:
        """Whether the run's events are still on disk only (asked for, not yet read)."""
        return run_id in self._on_disk

    def forget(self, run_id: str) -> None:
        """A deleted run: dropped, and ignored if a poll that raced the delete names it."""
        self._deleted.add(run_id)
        self.records.pop(run_id, None)
        self._on_disk.discard(run_id)
        if run_id in self._wanted:
            self._wanted.remove(run_id)

    def in_order(self, run_ids: Iterable[str]) -> list[RunRecord]:
        """The records of these runs that are known, oldest first."""
        return [self.records[run_id] for run_id in sorted(run_ids) if run_id in self.records]
