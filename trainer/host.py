"""What the trainer process does besides training: share the cores with other runs, take
a stop request from a signal (trainer/stop.py), and keep status.json's heartbeat fresh.
torch is imported only where threads are set."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from dmt_tui import rundir
from dmt_tui.rundir.heartbeat import Heartbeat as Heartbeat  # re-exported for the engine
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
