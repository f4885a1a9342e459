"""Experiments in the app: a lesson launched from the first screen in three keys and its
experiment view drawn from real trainer processes; the form refusing a bad value beside
its field; `x` opening an experiment; `s` stopping one after asking."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from dmt_tui import rundir
from dmt_tui.app.app import DmtApp
from dmt_tui.app.experiment_form import ExperimentForm
from dmt_tui.app.experiment_view import ExperimentScreen, StopExperimentConfirm
from dmt_tui.rundir import manifest as manifests
from tests.conftest import wait_until
from tests.tui.conftest import screen_text, tab_to, wait_for, wait_for_text

pytestmark = pytest.mark.slow


@pytest.fixture
def experiments(runs_dir: Path) -> Iterator[Path]:
    """Stops every experiment a test started (its scheduler, then its trials) at teardown."""
    yield runs_dir
    for manifest in manifests.list_experiments(runs_dir):
        pid = (manifest.get("scheduler") or {}).get("pid")
        if isinstance(pid, int) and rundir.pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            wait_until(lambda p=pid: not rundir.pid_alive(p), 60, "the scheduler to stop")
    for run_dir in rundir.iter_run_dirs(runs_dir):
        pid = rundir.read_status(run_dir).get("pid")
        if isinstance(pid, int) and rundir.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


async def test_a_lesson_launches_in_three_keys_and_its_view_is_drawn(
        experiments: Path) -> None:
    runs_dir = experiments
    app = DmtApp(runs_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("g", "7", "enter")  # the seventh lesson: warmup, two trials
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen),
                       "the experiment view")
        text = await wait_for_text(pilot, "Experiment", "look for: Noam warm-up",
                                   "schedule.name=noam", "schedule.name=none optimizer.lr=0.011")
        assert "Val loss: mean over seeds" in text
        await wait_for_text(pilot, "2/2 ended", timeout=300)
        manifest = manifests.list_experiments(runs_dir)[0]
        assert manifest["preset"] == "warmup" and len(manifest["trials"]) == 2
        assert all(t["run_id"] for t in manifest["trials"])
        # both configurations on the leaderboard with a loss, and the plots drawn
        await wait_for(pilot, lambda: all(
            text not in screen_text(app) for text in
            ("no epochs yet", "no gradient statistics yet", "reading the trials' runs"))
            and "●" in screen_text(app), "the plots", timeout=60)
        board = screen_text(app)
        for label in ("━ schedule.name=noam", "━ schedule.name=none optimizer.lr=0.011"):
            row = next(line for line in board.splitlines() if label in line)
            assert "1/1" in row and "%" in row


async def test_the_form_refuses_a_bad_value_beside_its_field(
        experiments: Path, presets_dir: Path) -> None:
    runs_dir = experiments
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentForm), "the form")
        await pilot.press("end")  # the last entry: the user preset `tiny`
        await pilot.press("tab")
        assert app.focused is not None and app.focused.id == "experiment-vary"
        await pilot.press(*"optimizer.lr=0.1,fast")
        text = await wait_for_text(pilot, "the value fast: optimizer.lr: expected a finite")
        hint = next(line for line in text.splitlines() if "the value fast" in line)
        assert "vary" in hint  # beside its field
        await pilot.press("enter")
        assert isinstance(app.screen, ExperimentForm)
        assert not runs_dir.exists()  # nothing written
        await pilot.press(*["backspace"] * len("fast"), *"0.01")
        await wait_for_text(pilot, "2 runs (2 configurations x 1 seed)")
        await pilot.press("tab", "tab")  # seeds, then parallel: 0 is refused too
        assert app.focused is not None and app.focused.id == "experiment-parallel"
        await pilot.press(*["backspace"] * 4, "0", "enter")
        await wait_for_text(pilot, "expected a whole number >= 1, got '0'")
        assert isinstance(app.screen, ExperimentForm)
        assert not runs_dir.exists()


async def test_stop_an_experiment_from_its_view(experiments: Path, presets_dir: Path) -> None:
    runs_dir = experiments
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentForm), "the form")
        await pilot.press("end", "tab", *"model.hidden=[4],[5],[6]; train.epochs=100000")
        await wait_for_text(pilot, "3 runs (3 configurations x 1 seed)")
        await pilot.press("tab", "tab", *["backspace"] * 4, "1", "enter")  # one at a time
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), "the view")
        await wait_for_text(pilot, "1 running, 2 queued", timeout=120)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, StopExperimentConfirm), "asking")
        await pilot.press("y")
        await wait_for_text(pilot, "3/3 ended", timeout=120)

        def states() -> list[str]:  # the scheduler writes the manifest as its trials end
            return sorted(t["state"] for t in manifests.list_experiments(runs_dir)[0]["trials"])

        await wait_for(pilot, lambda: states() == ["cancelled", "cancelled", "stopped"],
                       f"the manifest's states (now {states()})", timeout=120)
        await pilot.press("escape", "x")  # x opens it again from the monitor
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), "x")
        await wait_for_text(pilot, "stopped")


async def test_ticked_choices_and_variants_make_the_grid(
        experiments: Path, presets_dir: Path) -> None:
    """Choices ticked in the list vary their key; variants go together; a key both ticked
    and typed is refused beside the typed field; the launched manifest holds the crossing."""
    runs_dir = experiments
    app = DmtApp(runs_dir, presets_dir)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentForm), "the form")
        await pilot.press("end")  # the user preset `tiny`
        await tab_to(app, pilot, "experiment-choices")
        await pilot.press("space", "down", "space")  # identity and binary_step
        await wait_for_text(pilot, "2 runs (2 configurations x 1 seed)")
        await tab_to(app, pilot, "experiment-variants")
        await pilot.press(*"optimizer.name=sgd optimizer.momentum=0.9; optimizer.name=adam")
        await wait_for_text(pilot, "4 runs (4 configurations x 1 seed)")
        await tab_to(app, pilot, "experiment-vary")
        await pilot.press(*"model.activation=relu,tanh")
        text = await wait_for_text(pilot, "model.activation is ticked in the choices too")
        assert "vary" in next(line for line in text.splitlines() if "is ticked" in line)
        await pilot.press("enter")
        assert isinstance(app.screen, ExperimentForm) and not runs_dir.exists()
        await pilot.press(*["backspace"] * len("model.activation=relu,tanh"))
        await wait_for_text(pilot, "4 runs (4 configurations x 1 seed)")
        await tab_to(app, pilot, "experiment-variants")
        await pilot.press("end", *" oops")
        await wait_for_text(pilot, "expected KEY=VALUE [KEY=VALUE ...]")
        await pilot.press(*["backspace"] * len(" oops"))
        await wait_for_text(pilot, "4 runs (4 configurations x 1 seed)")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExperimentScreen), "the view")
    manifest = manifests.list_experiments(runs_dir)[0]
    crossed = sorted(" ".join(sorted(t["overrides"])) for t in manifest["trials"])
    assert crossed == sorted(
        " ".join(sorted([f"model.activation={a}", *v])) for a in ("identity", "binary_step")
        for v in (["optimizer.name=sgd", "optimizer.momentum=0.9"], ["optimizer.name=adam"]))
