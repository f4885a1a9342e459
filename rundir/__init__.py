"""The run directory: the only interface between the trainer and everything that reads runs.

Writers (the trainer) and readers (the app, `dmt-tui runs`, `export`) share this module,
so it stays torch-free. The format is the README's "Run directory" section; the events
are typed in `dmt_tui.rundir.events`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

CONFIG = "config.yaml"
EVENTS = "events.jsonl"
STATUS = "status.json"
BEST = "best.pt"
LAST = "last.pt"  # all a resumed run needs (`dmt-tui train --resume`)
LOG = "trainer.log"

LIVE_STATES = ("starting", "running")
END_STATES = ("finished", "early_stopped", "diverged", "stopped", "failed")
HEARTBEAT_S = 5.0  # the trainer rewrites status.json at least this often while alive
STALE_AFTER_S = 60.0  # a live state whose heartbeat is older than this reads as crashed
SAFE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class RunDirError(OSError):
    """The runs folder cannot be used (missing, not writable, full)."""


def default_runs_dir() -> Path:
    return Path(os.environ.get("DMT_RUNS_DIR") or "runs")


def safe_name(name: str) -> str:
    """A preset name reduced to characters that cannot leave the runs folder."""
    cleaned = "".join(c if c in SAFE_CHARS else "_" for c in name).strip("._-")
    return cleaned[:64] or "run"


def create_run_dir(runs_dir: Path, name: str, now: float | None = None) -> Path:
    """Make `runs_dir/<YYYYmmdd-HHMMSS>-<name>[-N]` atomically and return it."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    base = f"{stamp}-{safe_name(name)}"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        for n in range(1, 10_000):
            run_dir = runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                run_dir.mkdir()
            except FileExistsError:
                continue
            return run_dir
    except OSError as err:
        raise RunDirError(f"{runs_dir}: cannot create a run folder there: "
                          f"{err.strerror or err}") from None
    raise RunDirError(f"{runs_dir}: too many runs named {base}")


def write_config(run_dir: Path, text: str) -> None:
    """config.yaml, once, at the start; an OSError names the file (a full disk's ENOSPC
    comes from the write or the close, which name none)."""
    path = run_dir / CONFIG
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise OSError(err.errno, err.strerror, str(path)) from None


def remove_unstarted(run_dir: Path) -> None:
    """Undo a run folder that could not be set up (a full disk while writing config.yaml):
    remove the files a launcher writes there, then the folder if nothing else is in it."""
    for name in (CONFIG, STATUS, LOG, f".{STATUS}.{os.getpid()}.tmp"):
        with contextlib.suppress(OSError):
            (run_dir / name).unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as null (the `end` reason names them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class EventLog:
    """Appends one JSON object per line to events.jsonl, one unbuffered write per call
    (whole lines), so a reader sees each event as soon as it is written.

    orjson encodes a small model's `grad` event in a tenth of the stdlib's time (5 us
    against 41 us), which was much of what monitoring cost an epoch of a few milliseconds;
    like `_finite`, it writes NaN and infinity as null. A write that fails (a full disk)
    is cut back to the last whole line, so a later `end` event starts on a line of its own,
    and raises an OSError naming events.jsonl."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / EVENTS
        self._file: IO[bytes] = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self._size = os.fstat(self._file.fileno()).st_size  # bytes of whole lines

    OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY

    def write(self, type_: str, **fields: Any) -> dict[str, Any]:
        event = {"type": type_, "time": round(time.time(), 3), **fields}
        self._append(orjson.dumps(event, option=self.OPTIONS))
        return event

    def write_many(self, type_: str, many: list[dict[str, Any]]) -> None:
        """Events of one type, whole lines in one write: a batch of epochs' histograms
        costs one system call, not one each."""
        now = round(time.time(), 3)
        self._append(b"".join(orjson.dumps({"type": type_, "time": now, **fields},
                                           option=self.OPTIONS) for fields in many))

    def _append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                view = view[written or 0:]
        except OSError as err:
            with contextlib.suppress(OSError):
                os.ftruncate(self._file.fileno(), self._size)  # no torn line left behind
            raise OSError(err.errno, err.strerror, str(self.path)) from None
        self._size += len(data)

    def close(self) -> None:
        self._file.close()


def write_status(run_dir: Path, in_place_if_full: bool = False, **fields: Any) -> None:
    """Replace status.json atomically (write, then rename over the old one). Raises an
    OSError naming status.json; leaves no temporary file. `in_place_if_full`: on a full
    disk, overwrite status.json in place instead (the last status a failing run writes)."""
    status = {**fields, "updated": round(time.time(), 3), "host": socket.gethostname()}
    text = json.dumps(_finite(status), allow_nan=False, indent=1)
    tmp = run_dir / f".{STATUS}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, run_dir / STATUS)
    except OSError as err:
        with contextlib.suppress(OSError):
            tmp.unlink()  # a half-written copy is no one's status
        if err.errno not in (errno.ENOSPC, errno.EDQUOT) or not in_place_if_full:
            raise OSError(err.errno, err.strerror, str(run_dir / STATUS)) from None
        # A full disk has no room for a second copy; overwriting the old one reuses its
        # blocks. A reader may catch it half-written and read no status for that moment.
        try:
            with open(run_dir / STATUS, "r+b") as f:
                f.truncate(0)
                f.write(text.encode("utf-8"))
        except OSError as again:
            raise OSError(again.errno, again.strerror, str(run_dir / STATUS)) from None


def record_end(run_dir: Path, state: str, reason: str, **fields: Any) -> None:
    """An `end` event and the final status, written for a trainer that ends before its
    engine runs (a bad config.yaml, a broken install, a stop at start-up), as far as the
    disk allows: readers then show the state and the reason."""
    with contextlib.suppress(OSError):
        log = EventLog(run_dir)
        try:
            log.write("end", state=state, reason=reason, epochs=0, best_epoch=None,
                      best_val_loss=None, **fields)
        finally:
            log.close()
    with contextlib.suppress(OSError):
        status = {**read_status(run_dir), "state": state, "reason": reason, "pid": os.getpid()}
        write_status(run_dir, in_place_if_full=True, **status)


# ---- reading -------------------------------------------------------------------------------


@dataclass
class EventTail:
    """Reads events.jsonl incrementally; a torn last line waits for the rest of itself."""

    path: Path
    offset: int = 0
    skipped: list[str] = field(default_factory=list)  # notes about lines that were not JSON

    def read(self) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n") + 1  # everything after the last newline is still being written
        self.offset += end
        events = []
        for number, line in enumerate(chunk[:end].splitlines(), 1):
            if not line.strip():
                continue
            try:
                event = orjson.loads(line)
            except ValueError:  # orjson.JSONDecodeError is one
                self.skipped.append(f"{self.path}: skipped a line that is not JSON "
                                    f"(bytes {self.offset - end}+, line {number} of this read)")
                continue
            if isinstance(event, dict) and "type" in event:
                events.append(event)
        return events

    def torn_tail(self) -> bool:
        """Whether the file ends in a partial line (a writer killed mid-line)."""
        try:
            return self.path.stat().st_size > self.offset
        except FileNotFoundError:
            return False


def read_events(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every complete event of a run, and notes about what was skipped (a torn last line)."""
    tail = EventTail(run_dir / EVENTS)
    events = tail.read()
    notes = list(tail.skipped)
    if tail.torn_tail():
        notes.append(f"{tail.path}: skipped a torn last line (the writer stopped mid-line)")
    return events, notes


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        status = json.loads((run_dir / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def pid_alive(pid: int) -> bool:
    """Whether the process runs; a zombie (dead, not yet reaped by its parent) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (not Linux): signal 0 is all we know
    return stat[stat.rfind(")") + 2:][:1] not in ("Z", "X")


def effective_state(status: dict[str, Any], now: float | None = None) -> str:
    """The state to show: a live state whose process is gone or silent reads `crashed`."""
    state = str(status.get("state") or "starting")
    if state not in LIVE_STATES:
        return state
    now = time.time() if now is None else now
    updated = status.get("updated")
    if isinstance(updated, int | float) and now - updated > STALE_AFTER_S:
        return "crashed"
    pid = status.get("pid")
    same_host = status.get("host") in (None, socket.gethostname())
    if isinstance(pid, int) and same_host and not pid_alive(pid):
        return "crashed"
    return state


def iter_run_dirs(runs_dir: Path) -> Iterator[Path]:
    """Run folders under `runs_dir`, oldest first (ids sort by start time)."""
    try:
        entries = sorted(runs_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.is_dir() and ((entry / STATUS).exists() or (entry / EVENTS).exists()):
            yield entry


def find_run(runs_dir: Path, run_id: str) -> Path | None:
    """A run folder by id, or by a unique prefix of it."""
    if run_id and set(run_id) <= SAFE_CHARS and (runs_dir / run_id).is_dir():
        return runs_dir / run_id
    matches = [d for d in iter_run_dirs(runs_dir) if d.name.startswith(run_id)]
    return matches[0] if len(matches) == 1 else None
