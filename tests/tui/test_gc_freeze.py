"""The `dmt-tui` app moves its startup objects out of later garbage collections
(gc.freeze) once it is up; apps built by tests in one process never do."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dmt_tui.app.app
from dmt_tui.app.app import FREEZE_AFTER_S, DmtApp, run_app
from tests.tui.conftest import screen_text, wait_for


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as before


@pytest.fixture
def freezes(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When (time.monotonic) each freeze the app scheduled ran; the real freeze runs."""
    ran: list[float] = []
    real = dmt_tui.app.app.freeze_startup_objects

    def timed() -> None:
        ran.append(time.monotonic())
        real()

    monkeypatch.setattr(dmt_tui.app.app, "freeze_startup_objects", timed)
    return ran


async def test_the_app_freezes_its_startup_objects_when_asked(
        recorded_runs: Path, unfrozen: None, freezes: list[float]) -> None:
    began = time.monotonic()  # before the app mounts, so the delay is measured from earlier
    app = DmtApp(recorded_runs, freeze_after_s=1.0)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: gc.get_freeze_count() > 0, "gc.freeze", timeout=60)
        assert len(freezes) == 1 and freezes[0] - began >= 1.0  # not before the delay
        assert gc.get_freeze_count() > 10_000  # modules, classes, the screens: all of them


async def test_an_app_not_asked_never_freezes(recorded_runs: Path, unfrozen: None,
                                              freezes: list[float],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    scheduled: list[object] = []
    real_set_timer = DmtApp.set_timer

    def recording_set_timer(self: DmtApp, delay: float, callback: Any = None,
                            *args: Any, **kwargs: Any) -> Any:
        scheduled.append(callback)
        return real_set_timer(self, delay, callback, *args, **kwargs)

    monkeypatch.setattr(DmtApp, "set_timer", recording_set_timer)
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_for(pilot, lambda: "epoch 25:" in screen_text(app), "the run drawn")
        assert dmt_tui.app.app.freeze_startup_objects not in scheduled  # none pending
    assert freezes == [] and gc.get_freeze_count() == 0


def test_the_dmt_tui_command_asks_for_the_freeze(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    asked = []

    def run(self: DmtApp, *args: Any, **kwargs: Any) -> None:
        asked.append(self.freeze_after_s)

    monkeypatch.setattr(dmt_tui.app.app.DmtApp, "run", run)
    assert run_app(tmp_path, None) == 0
    assert asked == [FREEZE_AFTER_S]
