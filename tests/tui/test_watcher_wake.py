"""The watcher's wake(): a wake that comes while a poll runs is not lost, it brings one
more poll at once (the wait is cleared before the poll, never after it)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dmt_tui.app.messages import RunUpdate
from dmt_tui.app.watcher import RunsWatcher
from tests.conftest import wait_until


class Inbox:
    """Stands in for the screen: keeps what the watcher posts."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    def post_message(self, message: Any) -> bool:
        self.messages.append(message)
        return True


class WokenMidPoll(RunsWatcher):
    """Its first poll is woken while it runs (a launch landing mid-poll)."""

    def __init__(self, runs_dir: Path) -> None:
        super().__init__(runs_dir, Inbox(), interval=3600)  # type: ignore[arg-type]
        self.polls = 0
        self.second = threading.Event()

    def poll(self) -> list[RunUpdate]:
        self.polls += 1
        if self.polls == 1:
            self.wake()
        else:
            self.second.set()
        return []


def test_a_wake_during_a_poll_brings_another_poll_at_once(tmp_path: Path) -> None:
    watcher = WokenMidPoll(tmp_path)
    watcher.start()
    try:
        # Without the wake the next poll would be an hour away.
        assert watcher.second.wait(30), "the wake that came mid-poll was lost"
    finally:
        watcher.stop()
    assert not watcher.is_alive()


def test_a_wake_between_polls_polls_at_once(tmp_path: Path) -> None:
    watcher = WokenMidPoll(tmp_path)
    watcher.start()
    try:
        wait_until(lambda: watcher.polls >= 2, 30, "the first two polls")
        before = watcher.polls
        watcher.wake()
        wait_until(lambda: watcher.polls > before, 30, "a poll after wake()")
    finally:
        watcher.stop()
