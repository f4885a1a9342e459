"""What the trainer process does besides training: share the cores with other runs, take
a stop request from a signal (trainer/stop.py), and keep status.json's heartbeat fresh.
torch is imported only where threads are set."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from dmt_tui import rundir
from dmt_tui.trainer.stop import StopRequest as StopRequest  # re-exported for the loop


def share_of_cores(runs_dir: Path | None) -> int:
    """Threads for a CPU run: the cores divided among the runs training now, this one too,
    so that N concurrent runs do not oversubscribe the machine."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    live = 1
    if runs_dir is not None:
        for run_dir in rundir.iter_run_dirs(runs_dir):
            status = rundir.read_status(run_dir)
            if status.get("pid") != os.getpid() and \
                    rundir.effective_state(status) in rundir.LIVE_STATES:
                live += 1
    return max(1, (cores or 1) // live)


class CoreShare:
    """Re-divides the cores among live runs every few seconds: runs that start together
    cannot see each other at start-up, and a run that ends frees its share."""

    EVERY_S = 2.0

    def __init__(self, runs_dir: Path | None, fixed: int | None) -> None:
        self.runs_dir, self.fixed = runs_dir, fixed
        self.threads = fixed or share_of_cores(runs_dir)
        self._next = time.monotonic() + self.EVERY_S
        _set_threads(self.threads)

    def rebalance(self) -> int:
        now = time.monotonic()
        if self.fixed is None and now >= self._next:
            self._next = now + self.EVERY_S
            threads = share_of_cores(self.runs_dir)
            if threads != self.threads:
                self.threads = threads
                _set_threads(threads)
        return self.threads


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class Heartbeat:
    """Keeps status.json fresh from a daemon thread, so a long epoch is not taken for a
    crash. The loop calls `update()` with new summary fields every epoch; a change of state
    is written at once, the rest at most once a second (a write and rename costs about half
    a millisecond, a small model's epoch a few)."""

    EVERY_S = 1.0

    def __init__(self, run_dir: Path, **fields: Any) -> None:
        self.run_dir, self.fields = run_dir, dict(fields)
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._written = 0.0
        self.update(state=self.fields.get("state"))
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._thread.start()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.fields.update(fields)
            now = time.monotonic()
            if "state" in fields or now - self._written >= self.EVERY_S:
                rundir.write_status(self.run_dir, **self.fields)
                self._written = now

    def _beat(self) -> None:
        while not self._done.wait(rundir.HEARTBEAT_S):
            try:
                self.update()
            except OSError:
                pass  # a full disk shows up in the loop's own writes

    def close(self, **fields: Any) -> None:
        """The last status: on a full disk, written over the old one in place."""
        self._done.set()
        with self._lock:
            self.fields.update(fields)
            rundir.write_status(self.run_dir, in_place_if_full=True, **self.fields)


class Silent:
    """Stands in for the event log and the heartbeat on ranks other than 0, which write
    nothing to the run directory."""

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}

    def write(self, type_: str, **fields: Any) -> dict[str, Any]:
        return {"type": type_, **fields}

    def write_many(self, type_: str, many: list[dict[str, Any]]) -> None:
        pass

    def update(self, **fields: Any) -> None:
        self.fields.update(fields)

    def close(self, **fields: Any) -> None:
        self.fields.update(fields)
