"""digest.jsonl: a compact copy of what events.jsonl says epoch by epoch, so that a reader can
take a long run's history without parsing every line of it.

A run of 100,000 epochs writes 275 MB of events, nine tenths of it `grad` histograms; read
line by line, that is most of a second of CPU before the app can draw it
(bench/app_long_run.py). The digest holds, per chunk of up to EVERY epochs, the numbers of
every `epoch` event (columns: one list per field, null where an epoch lacks the field), each
`grad` event's epoch with every layer's mean norm and the total's, and the chunk's last
`progress` event, beside the byte range of events.jsonl the chunk stands for and where its last
epoch and grad lines lie there.

The digest is derived: events.jsonl stays the record. A chunk covers only `epoch`, `grad`
and `progress` lines (any other event ends the chunk before it), and a reader that finds a
chunk missing, torn, malformed or not matching events.jsonl reads that range of events.jsonl
instead, with the same result. Deleting digest.jsonl loses nothing.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Any

import orjson

DIGEST = "digest.jsonl"
EVERY = 1000  # epochs in a chunk: 0.3 MB of digest for a 4-layer run's 2.7 MB of events
DIGESTED = frozenset({"epoch", "grad", "progress"})
NUMBER_TYPES = frozenset({int, float, type(None)})
WHOLE = 2**53  # an int beyond this is not exact as a JSON number


@dataclass
class Chunk:
    """One line of digest.jsonl, checked for types (see `read_chunks`)."""

    start: int  # events.jsonl bytes [start, stop) hold only epoch, grad and progress lines
    stop: int
    epochs: dict[str, list[Any]]  # field -> a value per epoch (None: the epoch lacks it)
    grad_epochs: list[int]
    grad_totals: list[int | float | None]  # the total's mean norm of each grad event
    grad_means: list[list[int | float | None]]  # each layer's mean norm, input to output
    progress: dict[str, Any] | None  # the range's last progress event, whole
    last_epoch: tuple[int, int] | None  # (offset, length) of its last epoch line
    last_grad: tuple[int, int] | None

    @property
    def size(self) -> int:
        return len(self.epochs.get("epoch", ()))


@dataclass
class _Open:
    """The chunk being gathered by a writer."""

    start: int
    columns: dict[str, list[Any]] = field(default_factory=dict)
    epochs: int = 0
    grad_epochs: list[Any] = field(default_factory=list)
    grad_totals: list[Any] = field(default_factory=list)
    grad_means: list[list[Any]] = field(default_factory=list)
    progress: dict[str, Any] | None = None
    last_epoch: tuple[int, int] | None = None
    last_grad: tuple[int, int] | None = None


class DigestWriter:
    """Kept beside an events.jsonl writer (rundir.EventLog), told of every line it appends.

    It never fails the run: a digest that cannot be written is left as it is and not
    written again (readers then read events.jsonl), since events.jsonl is the record."""

    def __init__(self, run_dir: Path, offset: int) -> None:
        self.path = run_dir / DIGEST
        self._chunk = _Open(offset)
        self._file: IO[bytes] | None = None
        self._broken = False

    def appended(self, event: dict[str, Any], at: int, length: int) -> None:
        """events.jsonl has the event's line at bytes [at, at + length)."""
        kind = event.get("type")
        if kind not in DIGESTED:  # not digested: the chunk ends before it
            self.flush(at)
            self._chunk = _Open(at + length)
            return
        chunk = self._chunk
        if kind == "epoch":
            columns = chunk.columns
            for name in event:
                if name != "type" and name not in columns:
                    columns[name] = [None] * chunk.epochs  # a field new in this chunk
            for name, values in columns.items():
                values.append(event.get(name))
            chunk.epochs += 1
            chunk.last_epoch = (at, length)
            if chunk.epochs >= EVERY:
                self.flush(at + length)
                self._chunk = _Open(at + length)
        elif kind == "grad":
            total = event.get("total")
            layers = event.get("layers")
            chunk.grad_epochs.append(event.get("epoch"))
            chunk.grad_totals.append(total.get("mean") if isinstance(total, dict) else None)
            chunk.grad_means.append([layer.get("mean") if isinstance(layer, dict) else None
                                     for layer in layers] if isinstance(layers, list) else [])
            chunk.last_grad = (at, length)
        else:
            chunk.progress = event

    def flush(self, stop: int) -> None:
        """Write the open chunk as covering events.jsonl up to `stop`, if it holds an epoch
        or a grad; a chunk of progress lines alone is left to the events."""
        chunk = self._chunk
        if self._broken or not (chunk.epochs or chunk.grad_epochs):
            return
        line = orjson.dumps({
            "start": chunk.start, "stop": stop, "epochs": chunk.columns,
            "grads": {"epoch": chunk.grad_epochs, "total": chunk.grad_totals,
                      "means": chunk.grad_means},
            "progress": chunk.progress, "last_epoch": chunk.last_epoch,
            "last_grad": chunk.last_grad,
        }, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY)
        self._chunk = _Open(stop)
        size = 0
        try:
            if self._file is None:
                self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
            size = os.fstat(self._file.fileno()).st_size
            view = memoryview(line)
            while view:
                view = view[self._file.write(view) or 0:]
        except OSError:
            self._broken = True
            if self._file is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._file.fileno(), size)  # no torn line left behind

    def close(self, stop: int) -> None:
        self.flush(stop)
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None


def _numbers(values: Any) -> bool:
    """A list of JSON numbers and nulls, every int exact."""
    if not isinstance(values, list):
        return False
    types = set(map(type, values))
    if not types <= NUMBER_TYPES:
        return False
    if int not in types:
        return True
    if float in types:  # a field written as 1 and as 0.5: each int on its own
        return all(-WHOLE < v < WHOLE for v in values if type(v) is int)
    present = [v for v in values if v is not None] if type(None) in types else values
    return -WHOLE < min(present) and max(present) < WHOLE


def _place(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int and v >= 0
                                                           for v in value):
        return value[0], value[1]
    raise ValueError("not a place")


def _chunk(raw: Any) -> Chunk | None:
    """A digest line as a Chunk, or None when any part of it is not as the writer writes
    it (the caller then reads that range of events.jsonl)."""
    if not isinstance(raw, dict):
        return None
    start, stop = raw.get("start"), raw.get("stop")
    epochs, grads = raw.get("epochs"), raw.get("grads")
    progress = raw.get("progress")
    if not (type(start) is int and type(stop) is int and 0 <= start < stop
            and isinstance(epochs, dict) and isinstance(grads, dict)
            and (progress is None or isinstance(progress, dict)
                 and progress.get("type") == "progress")):
        return None
    sizes = {len(v) if isinstance(v, list) else -1 for v in epochs.values()}
    numbers = epochs.get("epoch", [])
    if len(sizes) > 1 or not all(map(_numbers, epochs.values())) \
            or not (set(map(type, numbers)) <= {int} and (not numbers or min(numbers) > 0)):
        return None
    grad_epochs, totals, means = grads.get("epoch"), grads.get("total"), grads.get("means")
    if not (isinstance(grad_epochs, list) and set(map(type, grad_epochs)) <= {int}
            and (not grad_epochs or 0 < min(grad_epochs) and max(grad_epochs) < WHOLE)
            and isinstance(totals, list) and _numbers(totals)
            and isinstance(means, list) and all(isinstance(m, list) for m in means)
            and _numbers(list(chain.from_iterable(means)))
            and len(grad_epochs) == len(totals) == len(means)):
        return None
    try:
        last_epoch, last_grad = _place(raw.get("last_epoch")), _place(raw.get("last_grad"))
    except ValueError:
        return None
    if (last_epoch is None) != (not numbers) or (last_grad is None) != (not grad_epochs):
        return None
    for place in (last_epoch, last_grad):
        if place is not None and not start <= place[0] < place[0] + place[1] <= stop:
            return None
    return Chunk(start, stop, epochs, grad_epochs, totals, means, progress,
                 last_epoch, last_grad)


def read_chunks(run_dir: Path) -> Iterator[Chunk]:
    """The digest's well-formed chunks in file order, each beginning where the one before
    ended or later; none without a digest. Lines that are not well-formed are left out.
    Read a line at a time, so that only one chunk is held at once."""
    path = run_dir / DIGEST
    stop = 0
    try:
        if not path.is_file():  # none, or a FIFO that would block the open for ever
            return
        with open(path, "rb") as f:
            for line in f:
                try:
                    chunk = _chunk(orjson.loads(line))
                except ValueError:  # orjson.JSONDecodeError is one
                    continue
                if chunk is not None and chunk.start >= stop:
                    stop = chunk.stop
                    yield chunk
    except OSError:
        return
