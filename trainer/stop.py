"""A stop request from a signal. Imports nothing heavy on purpose: the `dmt-tui` command
takes the stop signals from here first thing, so that a Ctrl-C while torch (or anything)
is being imported is a stop request, never a KeyboardInterrupt in the middle of an import."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopRequest:
    """Set by SIGTERM (and SIGINT, SIGHUP); the loop finishes its step and ends `stopped`.
    `install()` takes the signals and `restore()` gives the previous handlers back, so that
    after an in-process run (tests, benches) Ctrl-C interrupts the caller again."""

    def __init__(self) -> None:
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.signal_name)

    def install(self) -> bool:
        """Take the stop signals (main thread only); False when not installed."""
        if threading.current_thread() is not threading.main_thread():
            return False
        # SIGHUP: a terminal that hangs up on a foreground `dmt-tui train` ends the run
        # `stopped` with its data, not killed mid-write (the app's runs have no terminal).
        for sig in STOP_SIGNALS:
            previous = signal.signal(sig, self._handle)
            self._previous.setdefault(sig, previous)
        # A launcher (rundir/launch.py, trainer/local_ranks.py) starts a trainer with SIGTERM
        # blocked, so that a stop sent before this point waits instead of killing it: take
        # it now.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        return True

    def restore(self) -> None:
        """Put back the handlers `install()` replaced."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
