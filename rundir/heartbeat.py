"""status.json kept fresh from a daemon thread while a run's process lives: the trainer's
and a user's own loop's (dmt_tui.Run) alike. A killed process stops beating, and readers
then show its run `crashed` (or `not-responding` while its pid is alive on this host)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from dmt_tui.rundir import HEARTBEAT_S, write_status


class Heartbeat:
    """The loop calls `update()` with new summary fields every epoch; a change of state is
    written at once, the rest at most once a second (a write and rename costs about half a
    millisecond, a small model's epoch a few), and the file at least every HEARTBEAT_S."""

    EVERY_S = 1.0

    def __init__(self, run_dir: Path, **fields: Any) -> None:
        self.run_dir, self.fields = run_dir, dict(fields)
        self._lock = threading.Lock()  # one writer at a time: both use one temporary name
        self._done = threading.Event()
        self._written = 0.0
        self.update(state=self.fields.get("state"))
        self._thread = threading.Thread(target=self._beat, name="dmt-tui heartbeat",
                                        daemon=True)
        self._thread.start()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.fields.update(fields)
            now = time.monotonic()
            if "state" in fields or now - self._written >= self.EVERY_S:
                write_status(self.run_dir, **self.fields)
                self._written = now

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT_S):
            try:
                self.update()
            except OSError:
                pass  # a full disk shows up in the run's own writes

    def close(self, **fields: Any) -> None:
        """The last status: on a full disk, written over the old one in place."""
        self._done.set()
        with self._lock:
            self.fields.update(fields)
            write_status(self.run_dir, in_place_if_full=True, **self.fields)
