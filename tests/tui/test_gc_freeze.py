"""The `dmt-tui` app moves its startup objects out of later garbage collections
(gc.freeze) once it is up; apps built by tests in one process never do."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dmt_tui.app.app
from dmt_tui.app.app import FREEZE_AFTER_S, DmtApp, run_app
from tests.tui.conftest import wait_for


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test session collects as before


async def test_the_app_freezes_its_startup_objects_when_asked(recorded_runs: Path,
                                                              unfrozen: None) -> None:
    app = DmtApp(recorded_runs, freeze_after_s=3.0)  # an app starts well inside 3 s
    async with app.run_test(size=(120, 36)) as pilot:
        assert gc.get_freeze_count() == 0  # not before the delay
        await wait_for(pilot, lambda: gc.get_freeze_count() > 0, "gc.freeze", timeout=20)
        assert gc.get_freeze_count() > 10_000  # modules, classes, the screens: all of them


async def test_an_app_not_asked_never_freezes(recorded_runs: Path, unfrozen: None) -> None:
    app = DmtApp(recorded_runs)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause(FREEZE_AFTER_S + 0.5)
        assert gc.get_freeze_count() == 0


def test_the_dmt_tui_command_asks_for_the_freeze(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    asked = []

    def run(self: DmtApp, *args: Any, **kwargs: Any) -> None:
        asked.append(self.freeze_after_s)

    monkeypatch.setattr(dmt_tui.app.app.DmtApp, "run", run)
    assert run_app(tmp_path, None) == 0
    assert asked == [FREEZE_AFTER_S]
