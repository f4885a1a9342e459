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

from dmt_tui.rundir import fields as field_checks
from dmt_tui.rundir.digest import DIGESTED, DigestWriter

CONFIG = "config.yaml"
EVENTS = "events.jsonl"
STATUS = "status.json"
BEST = "best.pt"
LAST = "last.pt"  # all a resumed run needs (`dmt-tui train --resume`)
LOG = "trainer.log"

# `not_responding`: a live state whose heartbeat is stale while its process is alive on this
# host (stopped with SIGSTOP, swapped out): it may come back, and it is never deleted.
LIVE_STATES = ("starting", "running", "not_responding")
END_STATES = ("finished", "early_stopped", "diverged", "stopped", "failed")
WRITTEN_STATES = ("starting", "running", *END_STATES)  # what a trainer writes in status.json
HEARTBEAT_S = 5.0  # the trainer rewrites status.json at least this often while alive
# A live state whose heartbeat is older than this reads as crashed (or not responding while
# its process is alive here). DMT_STALE_AFTER_S overrides it, for tests that pause a trainer.
STALE_AFTER_S = 60.0
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
        self._digest = DigestWriter(run_dir, self._size)

    OPTIONS = orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY

    def write(self, type_: str, **fields: Any) -> dict[str, Any]:
        event = {"type": type_, "time": round(time.time(), 3), **fields}
        line = orjson.dumps(event, option=self.OPTIONS)
        at = self._size
        if type_ not in DIGESTED:
            self._digest.flush(at)  # on disk before the event that ends its chunk
        self._append(line)
        self._digest.appended(event, at, len(line))
        return event

    def write_many(self, type_: str, many: list[dict[str, Any]]) -> None:
        """Events of one type, whole lines in one write: a batch of epochs' histograms
        costs one system call, not one each."""
        now = round(time.time(), 3)
        events = [{"type": type_, "time": now, **fields} for fields in many]
        lines = [orjson.dumps(event, option=self.OPTIONS) for event in events]
        at = self._size
        if type_ not in DIGESTED:
            self._digest.flush(at)
        self._append(b"".join(lines))
        for event, line in zip(events, lines, strict=True):
            self._digest.appended(event, at, len(line))
            at += len(line)

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
        self._digest.close(self._size)
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
        """The complete events appended since the last read, each checked (fields.py)."""
        try:
            chunk = field_checks.read_regular(self.path, self.offset)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as err:  # a folder, a FIFO, no permission: say it once
            note = f"{self.path}: cannot be read ({getattr(err, 'strerror', None) or err})"
            if note not in self.skipped:
                self.skipped.insert(0, note)
            return []
        end = chunk.rfind(b"\n") + 1  # everything after the last newline is still being written
        self.offset += end
        events = []
        notes: list[str] = []
        for number, line in enumerate(chunk[:end].splitlines(), 1):
            if not line.strip():
                continue
            where = f"{self.path} (bytes {self.offset - end}+, line {number} of this read)"
            try:
                raw = orjson.loads(line)
            except ValueError:  # orjson.JSONDecodeError is one
                notes.append(f"{where}: skipped a line that is not JSON")
                continue
            event = field_checks.clean_event(raw, where, notes)
            if event is not None:
                events.append(event)
        field_checks.capped(self.skipped, notes)
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
    """status.json with each field of the right type (fields.py); {} when missing or unreadable."""
    return field_checks.read_status_file(run_dir / STATUS, WRITTEN_STATES)[0]


def run_status(run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """What readers show as a run's status, and notes about status.json. Without a heartbeat
    in it (no status.json: a trainer that died before writing one; or one unreadable) the
    last change to the run's files stands in for it, so that such a run reads as crashed
    once that is older than the staleness, not as training for ever."""
    status, notes = field_checks.read_status_file(run_dir / STATUS, WRITTEN_STATES)
    if "updated" not in status:
        times = []
        for path in (run_dir / STATUS, run_dir / EVENTS, run_dir):
            try:
                times.append(path.stat().st_mtime)
            except OSError:
                pass
        if times:
            status["updated"] = max(times)
    return status, notes


def read_config(run_dir: Path) -> tuple[dict[str, Any], str | None]:
    """config.yaml as a mapping, and a note when it is unreadable ({} then)."""
    return field_checks.read_config(run_dir / CONFIG)


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


def stale_after_s() -> float:
    """STALE_AFTER_S, or DMT_STALE_AFTER_S when set to a positive number."""
    try:
        value = float(os.environ.get("DMT_STALE_AFTER_S") or STALE_AFTER_S)
    except ValueError:
        return STALE_AFTER_S
    return value if math.isfinite(value) and value > 0 else STALE_AFTER_S


def trainer_alive(status: dict[str, Any]) -> bool:
    """Whether status.json names a process that is alive on this host: whatever its state
    or heartbeat says, its folder is in use."""
    pid = status.get("pid")
    same_host = status.get("host") in (None, socket.gethostname())
    return (isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and same_host
            and pid_alive(pid))


def effective_state(status: dict[str, Any], now: float | None = None) -> str:
    """The state to show: a live state whose process is gone reads `crashed`; one whose
    heartbeat is stale reads `not_responding` while its process is alive on this host
    (paused, swapped out: it may come back), `crashed` otherwise."""
    state = str(status.get("state") or "starting")
    if state not in LIVE_STATES:
        return state
    now = time.time() if now is None else now
    pid = status.get("pid")
    same_host = status.get("host") in (None, socket.gethostname())
    known_pid = isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and same_host
    if known_pid and isinstance(pid, int) and not pid_alive(pid):
        return "crashed"
    updated = status.get("updated")
    if isinstance(updated, int | float) and now - updated > stale_after_s():
        return "not_responding" if known_pid else "crashed"
    return state


def iter_run_dirs(runs_dir: Path) -> Iterator[Path]:
    """Run folders under `runs_dir`, oldest first (ids sort by start time)."""
    try:
        entries = sorted(runs_dir.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if is_run_dir(entry):
            yield entry


def is_run_dir(path: Path) -> bool:
    """Whether `path` is a run folder: a directory named like a run, holding status.json or
    events.jsonl (a run's first files)."""
    try:
        return (is_run_name(path.name) and path.is_dir()
                and ((path / STATUS).exists() or (path / EVENTS).exists()))
    except OSError:
        return False


def is_run_name(name: str) -> bool:
    """Run folder names keep to SAFE_CHARS and never start with a dot (nor are `.`, `..`)."""
    return bool(name) and not name.startswith(".") and set(name) <= SAFE_CHARS


def find_run(runs_dir: Path, run_id: str) -> Path | None:
    """A run folder by id, or by a unique prefix of it; None for anything else (`.`, `..`,
    a path, a folder that holds no run)."""
    if not is_run_name(run_id):
        return None
    if is_run_dir(runs_dir / run_id):
        return runs_dir / run_id
    matches = [d for d in iter_run_dirs(runs_dir) if d.name.startswith(run_id)]
    return matches[0] if len(matches) == 1 else None
