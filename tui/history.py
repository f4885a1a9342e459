"""Reading a run's whole events.jsonl the way the app holds it: every epoch's plotted
numbers, every `grad` event's epoch and total norm, and only the newest of each whole.

A long run's file is mostly `grad` lines (a 100,000-epoch run of 4 layers: 275 MB, nine
tenths of it histograms that only the newest event's panel draws). Parsing them all would
take seconds and, held whole, gigabytes; so a line that begins as `rundir.EventLog` writes a
`grad` event gives up only its epoch and the total's mean, found in the bytes, and is parsed
whole only when it is the last one. Any other line, and a `grad` line whose fields are not
where the writer puts them (another writer may order keys differently), is parsed as JSON:
the result is the same, only slower. The file is read in blocks, so memory stays at what is
kept. Nothing is written; the run folder is read as the contract documents it.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from dmt_tui import rundir
from dmt_tui.app.store import EPOCH_PLOTTED, slim_epoch, slim_grad
from dmt_tui.rundir.digest import Chunk, read_chunks
from dmt_tui.rundir.fields import capped, clean_event
from dmt_tui.rundir.record import RunRecord

BLOCK = 2 << 20  # bytes read at a time: hundreds of epochs' events, and little memory
GRAD_LINE = b'{"type":"grad",'  # how rundir.EventLog begins a grad event (orjson, type first)
_EPOCH = re.compile(rb'"epoch":(\d+)[,}]')
# The total's histogram is the line's last object: no braces inside it, so its mean is found
# between `"total":{` and the closing brace.
_MEAN = re.compile(rb'"mean":(null|-?[0-9][0-9.eE+-]*)[,}]')
_TOTAL_MEAN = re.compile(rb'"total":\{[^{}]*?"mean":(null|-?[0-9][0-9.eE+-]*)[,}]')


@dataclass
class History:
    """What the app holds of a run's events, read from `offset` 0 to `offset`."""

    epochs: list[dict[str, Any]] = field(default_factory=list)  # slim but the newest
    grads: list[dict[str, Any]] = field(default_factory=list)  # slim but the newest
    events: list[dict[str, Any]] = field(default_factory=list)  # start, the last progress, end
    offset: int = 0  # bytes read: up to the end of the last complete line
    skipped: list[str] = field(default_factory=list)  # notes on lines that were not JSON


SLIM_NUMBERS = ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "seconds", "time")
SLIM_FIELDS = ("epoch", *SLIM_NUMBERS)


def quick_epoch(event: Any) -> dict[str, Any] | None:
    """The slim epoch (`store.slim_epoch`) of a parsed `epoch` line whose epoch is a whole
    number and whose plotted fields are numbers or null, as rundir.EventLog writes them; None
    for anything else, which clean_event then reads field by field with a note for each
    wrong one. (Checking only what the slim copy keeps: the generic check of every field
    was two fifths of a 100,000-epoch run's read.)"""
    if type(event) is not dict or event.get("type") != "epoch":
        return None
    epoch = event.get("epoch")
    if type(epoch) is not int or not 0 <= epoch < 2**53:
        return None
    slim = slim_epoch(event)
    for key in SLIM_NUMBERS:
        value = slim[key]
        kind = type(value)
        if value is not None and not (kind is float and math.isfinite(value)
                                      or kind is int and -2**53 < value < 2**53):
            return None
    return slim


def quick_grad(data: bytes, start: int = 0, stop: int | None = None) -> dict[str, Any] | None:
    """The slim event (`store.slim_grad`) of the `grad` line data[start:stop], found in its
    bytes, or None when its fields are not where rundir.EventLog writes them (then parse
    it). Works in place: a line is not copied out of the block it was read in."""
    stop = len(data) if stop is None else stop
    epoch = _EPOCH.search(data, start, min(stop, start + 80))
    total = data.rfind(b'"total":{', start, stop)
    mean = _TOTAL_MEAN.match(data, total, stop) if total > start else None
    if epoch is None or mean is None:
        return None
    value = mean.group(1)
    try:
        total_mean = None if value == b"null" else float(value)
        # each layer's own "mean", in order, for the heatmap (the total's is not among them)
        found = _MEAN.findall(data, start, total)
        means = tuple(None if v == b"null" else float(v) for v in found) \
            if b"null" in found else tuple(map(float, found))
    except ValueError:  # not a JSON number after all (`1.2.3`): parse the line
        return None
    return {"type": "grad", "epoch": int(epoch.group(1)), "total_mean": total_mean,
            "means": means}


class _Reader:
    """Builds a History block by block; only the newest epoch and grad are kept whole."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path = path
        self.history = History(offset=offset)
        self.last_grad: bytes | dict[str, Any] | None = None  # the newest grad, still whole
        self.progress: dict[str, Any] | None = None
        self.boundary: dict[str, Any] | None = None
        self.last_epoch: dict[str, Any] | None = None
        self.cut_grads = False  # the last `resume` dropped grads trained again after it

    def block(self, data: bytes, start: int, end: int) -> None:
        """The whole lines in data[start:end]. A `grad` line is looked at where it lies;
        only the block's last one is copied out (it may be the run's newest)."""
        pos = start
        newest: tuple[int, int] | None = None  # where the block's newest quick grad lies
        while pos < end:
            stop = data.find(b"\n", pos, end)
            slim = quick_grad(data, pos, stop) if data.startswith(GRAD_LINE, pos) else None
            if slim is not None:
                self.history.grads.append(slim)
                newest = (pos, stop)
            else:
                kind = self.line(data[pos:stop], self.history.offset + pos - start)
                if kind == "grad" or (kind == "resume" and self.cut_grads):
                    newest = None  # a parsed grad is newer (line() kept it whole), or the
                    # block's newest was trained again after a resume
            pos = stop + 1
        if newest is not None:
            self.last_grad = data[newest[0]:newest[1]]
        self.history.offset += end - start

    def line(self, line: bytes, at: int) -> Any:
        """One line that is not a quickly read `grad` line, parsed as JSON; returns its
        type (None for a line that holds no event)."""
        if not line.strip():
            return None
        try:
            event = orjson.loads(line)
        except ValueError:  # orjson.JSONDecodeError is one
            self.history.skipped.append(f"{self.path}: skipped a line that is not JSON "
                                        f"(at byte {at})")
            return None
        slim = quick_epoch(event)
        if slim is not None:  # cleaned whole only if it stays the newest (done())
            self.history.epochs.append(slim)
            self.last_epoch = event
            return "epoch"
        notes: list[str] = []
        event = clean_event(event, f"{self.path} (at byte {at})", notes)
        capped(self.history.skipped, notes)
        if event is None:
            return None
        kind = event["type"]
        if kind == "epoch":
            self.history.epochs.append(slim_epoch(event))
            self.last_epoch = event
        elif kind == "grad":
            self.history.grads.append(slim_grad(event))
            self.last_grad = event
        elif kind == "progress":
            self.progress = event
        elif kind == "boundary":  # the newest, with the first one's data points
            self.boundary = {**event, "points": event.get("points")
                             or (self.boundary or {}).get("points")}
        elif kind == "resume":
            self.resume(event.get("epoch", 0))
        else:
            self.history.events.append(event)
        return kind

    def resume(self, after: Any) -> None:
        """`dmt-tui train --resume`: what came after the checkpoint's epoch is trained again
        and follows, and the run's earlier `end` is not its last (RunRecord.apply does the
        same event by event; the events handed on hold no `resume` so it is done once)."""
        history = self.history
        after = after if isinstance(after, int) else 0
        epochs, grads = len(history.epochs), len(history.grads)
        history.epochs = [e for e in history.epochs if e.get("epoch", 0) <= after]
        history.grads = [g for g in history.grads if g.get("epoch", 0) <= after]
        history.events = [e for e in history.events if e.get("type") != "end"]
        if len(history.epochs) < epochs:
            self.last_epoch = None  # the newest whole one was cut: the next is whole
        self.cut_grads = len(history.grads) < grads
        if self.cut_grads:
            self.last_grad = None

    def take(self, chunk: Chunk, newest_epoch: dict[str, Any] | None,
             newest_grad: bytes | None) -> None:
        """A digest chunk (its range of events.jsonl checked to match) in place of reading
        its lines: the same slim epochs and grads, its newest ones kept whole."""
        history, columns, n = self.history, chunk.epochs, chunk.size
        if n:
            fixed = [columns.get(name) or [None] * n for name in SLIM_FIELDS]
            slims = [{"type": "epoch", "epoch": epoch, "train_loss": train_loss,
                      "val_loss": val_loss, "train_acc": train_acc, "val_acc": val_acc,
                      "lr": lr, "seconds": seconds, "time": time}  # as slim_epoch's
                     for epoch, train_loss, val_loss, train_acc, val_acc, lr, seconds, time
                     in zip(*fixed, strict=True)]
            extras = [name for name in columns if name not in EPOCH_PLOTTED]
            for name in extras:  # a script's own metrics (dmt_tui.Run), where it has them
                for slim, value in zip(slims, columns[name], strict=True):
                    if value is not None:
                        slim[name] = value
            history.epochs.extend(slims)
            self.last_epoch = newest_epoch
        if chunk.grad_epochs:
            history.grads += [
                {"type": "grad", "epoch": epoch, "total_mean": total, "means": means}
                for epoch, total, means in zip(chunk.grad_epochs, chunk.grad_totals,
                                               map(tuple, chunk.grad_means), strict=True)]
            self.last_grad = newest_grad
        if chunk.progress is not None:
            self.progress = clean_event(chunk.progress, f"{self.path} (a digest)", []) \
                or self.progress
        history.offset = chunk.stop

    def done(self) -> History:
        history = self.history
        if self.last_epoch is not None:  # the newest epoch is held whole
            notes: list[str] = []  # none for one cleaned already: it is clean
            newest = clean_event(self.last_epoch, f"{self.path} (the last epoch)", notes)
            capped(history.skipped, notes)
            if newest is not None:
                history.epochs[-1] = newest
        last = self.last_grad
        if isinstance(last, bytes):
            try:
                last = orjson.loads(last)
            except ValueError:
                last = None
        if isinstance(last, dict):
            last = clean_event(last, f"{self.path} (the last grad)", [])
        if isinstance(last, dict) and last.get("type") == "grad":
            history.grads[-1] = last
        if self.progress is not None:
            history.events.append(self.progress)
        if self.boundary is not None:
            history.events.append(self.boundary)
        return history


def read_history(path: Path, offset: int = 0, block: int = BLOCK,
                 digest: bool = True) -> History:
    """Every complete line of events.jsonl from `offset` on, as the app holds them; a torn
    last line is left for the next read (History.offset stops before it). The ranges that
    the run's digest.jsonl covers (rundir/digest.py) are taken from it instead, with the
    same result: a 100,000-epoch run is read in a fraction of the time."""
    reader = _Reader(path, offset)
    if path.exists() and not path.is_file():  # a FIFO would block the open for ever
        reader.history.skipped.append(f"{path}: cannot be read (not a regular file)")
        return reader.done()
    try:
        with open(path, "rb") as f:
            size, pos = os.fstat(f.fileno()).st_size, offset
            for chunk in read_chunks(path.parent) if digest else []:
                newest = _matching(f.fileno(), chunk) \
                    if pos <= chunk.start and chunk.stop <= size else None
                if newest is None:  # that range is read from the events below
                    continue
                _read_lines(f, reader, pos, chunk.start, block)
                reader.take(chunk, *newest)
                pos = chunk.stop
            _read_lines(f, reader, pos, None, block)
    except FileNotFoundError:
        pass
    return reader.done()


def _read_lines(f: BinaryIO, reader: _Reader, start: int, stop: int | None,
                block: int) -> None:
    """The whole lines of events.jsonl from `start` to `stop` (a line's end) or its end."""
    f.seek(start)
    rest = b""  # the start of a line that the last block cut
    left = -1 if stop is None else stop - start
    while left and (chunk := f.read(block if left < 0 else min(block, left))):
        left -= len(chunk) if left > 0 else 0
        first = chunk.find(b"\n") + 1
        if not first:  # no line ends in this block: carry all of it
            rest += chunk
            continue
        # The cut line joined up on its own, so the block is never copied whole.
        head = rest + chunk[:first]
        reader.block(head, 0, len(head))
        end = chunk.rfind(b"\n") + 1
        reader.block(chunk, first, end)
        rest = chunk[end:]


def _matching(fd: int, chunk: Chunk) -> tuple[dict[str, Any] | None, bytes | None] | None:
    """(its last epoch event, its last grad line) when the digest's chunk fits events.jsonl:
    its range begins and ends at line ends, and its last epoch and grad lines are where it
    says, with its numbers. None for a chunk of another file (events.jsonl replaced)."""
    def line(place: tuple[int, int] | None) -> bytes | None:
        return None if place is None else os.pread(fd, place[1], place[0])

    try:
        if chunk.start and os.pread(fd, 1, chunk.start - 1) != b"\n" \
                or os.pread(fd, 1, chunk.stop - 1) != b"\n":
            return None
        epoch_line, grad_line = line(chunk.last_epoch), line(chunk.last_grad)
        epoch = orjson.loads(epoch_line) if epoch_line is not None else None
    except (OSError, ValueError):
        return None
    if epoch is not None and not (isinstance(epoch, dict) and epoch.get("type") == "epoch"
                                  and epoch.get("epoch") == chunk.epochs["epoch"][-1]):
        return None
    if grad_line is not None:
        grad = quick_grad(grad_line) if grad_line.startswith(GRAD_LINE) else None
        if grad is None or grad["epoch"] != chunk.grad_epochs[-1]:
            return None
    return epoch, grad_line


def load_record(run_dir: Path) -> RunRecord:
    """A run as `RunRecord.load` reads it, its past epochs and grads slim as the app holds
    them (read_history), so that a view of hundreds of runs reads each quickly; later
    `update()` calls read on from where this stopped."""
    record = RunRecord(run_dir)
    history = read_history(run_dir / rundir.EVENTS)
    for event in history.events:  # start, the last progress and boundary, end
        record.apply(event)
    record.epochs, record.grads = history.epochs, history.grads
    record.read_on_from(history.offset, history.skipped)
    record.update()  # config, status and notes, and anything written since
    return record
