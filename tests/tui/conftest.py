"""Fixtures for the app's tests: a tiny user preset, runs folders, and a guard that no
trainer a test started outlives it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot

import dmt_tui.app.launch_form
from dmt_tui import rundir
from dmt_tui.app.launch_fields import FIELDS

DATA_RUNS = Path(__file__).resolve().parent.parent / "data" / "recorded"
RECORDED_RUN = "20261126-154811-deep-sigmoid-vanishing"

@pytest.fixture
def recorded_runs(tmp_path: Path) -> Path:
    """A copy of the committed finished run (a copy: the app must not change it)."""
    folder = tmp_path / "recorded"
    shutil.copytree(DATA_RUNS / RECORDED_RUN, folder / RECORDED_RUN)
    return folder


COMPARE_RUN = "20261126-160502-deep-tanh"  # the recorded run, edited: see compare_runs


def compare_runs(folder: Path) -> tuple[str, str]:
    """Two finished runs that differ where a comparison looks, with fixed content: the
    recorded run, and a copy of it as `deep-tanh` (tanh, lr 0.05) whose losses are 0.7x
    and whose gradient norms are 1000x the recorded ones. Returns their ids."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DATA_RUNS / RECORDED_RUN, folder / RECORDED_RUN)
    copy = folder / COMPARE_RUN
    shutil.copytree(DATA_RUNS / RECORDED_RUN, copy)
    config = (copy / "config.yaml").read_text("utf-8")
    for old, new in [("name: deep-sigmoid-vanishing", "name: deep-tanh"),
                     ("activation: sigmoid", "activation: tanh"), ("lr: 0.1\n", "lr: 0.05\n")]:
        assert old in config
        config = config.replace(old, new)
    (copy / "config.yaml").write_text(config, "utf-8")
    lines = []
    for line in (copy / "events.jsonl").read_text("utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "start":
            event.update(run_id=COMPARE_RUN, preset="deep-tanh")
        elif event["type"] == "epoch":
            for key in ("train_loss", "val_loss", "es_best"):
                event[key] = event[key] * 0.7 if event.get(key) is not None else None
        elif event["type"] == "grad":
            for layer in [*event["layers"], event["total"]]:
                for key in ("mean", "min", "max"):
                    layer[key] = layer[key] * 1000 if layer.get(key) is not None else None
                layer["edges"] = [edge * 1000 for edge in layer["edges"]]
        elif event["type"] == "end":
            event["best_val_loss"] *= 0.7
        lines.append(json.dumps(event))
    (copy / "events.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    status = json.loads((copy / "status.json").read_text("utf-8"))
    status.update(run_id=COMPARE_RUN, preset="deep-tanh",
                  best_val_loss=status["best_val_loss"] * 0.7)
    (copy / "status.json").write_text(json.dumps(status), "utf-8")
    return RECORDED_RUN, COMPARE_RUN


@pytest.fixture
def trainers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every trainer the launch form starts; each is stopped (then killed) at teardown."""
    started: list[subprocess.Popen[bytes]] = []
    real_launch = dmt_tui.app.launch_form.launch

    def recording_launch(config: dict, runs: Path,
                         nproc: int = 1) -> tuple[Path, subprocess.Popen[bytes]]:
        run_dir, process = real_launch(config, runs, nproc=nproc)
        started.append(process)
        return run_dir, process

    monkeypatch.setattr(dmt_tui.app.launch_form, "launch", recording_launch)
    yield started
    for process in started:
        end_process(process)


def end_process(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM the trainer's session, wait, then SIGKILL it: no test leaves one running."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: pid == process group
        except ProcessLookupError:
            pass
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def screen_text(app: App[Any]) -> str:
    """The screen as a user reads it, one line per terminal row."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def wait_for(pilot: Pilot[Any], condition: Callable[[], bool], what: str,
                   timeout: float = 90.0) -> None:
    """Let the app run until `condition` holds; fail with the screen when it never does.
    Generous: a trainer needs seconds to import torch on a busy two-core machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n"
                                 f"{screen_text(pilot.app)}")
        await pilot.pause(0.1)


async def wait_steady(pilot: Pilot[Any], interval: float = 0.3, timeout: float = 30.0) -> None:
    """Let the app run until the screen's text is the same `interval` apart: every panel
    has drawn what it read (a snapshot of a panel between its draw and its next layout
    differs by a row)."""
    deadline = time.monotonic() + timeout
    before = screen_text(pilot.app)
    while True:
        await pilot.pause(interval)
        now = screen_text(pilot.app)
        if now == before:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen never settled; the screen:\n{now}")
        before = now


async def tab_to(app: App[Any], pilot: Pilot[Any], widget_id: str) -> None:
    """Press tab until the widget has the focus (the form's fields in order, then round)."""
    for _ in range(len(FIELDS) + 2):
        if app.focused is not None and app.focused.id == widget_id:
            return
        await pilot.press("tab")
    raise AssertionError(f"tab never reached {widget_id}")


def run_state(run_dir: Path) -> str:
    """The state in a run's status.json as the app would show it."""
    return rundir.effective_state(rundir.read_status(run_dir))


async def wait_for_text(pilot: Pilot[Any], *texts: str, timeout: float = 90.0) -> str:
    """Wait until every one of `texts` is on the screen; return the screen."""
    await wait_for(pilot, lambda: all(t in screen_text(pilot.app) for t in texts),
                   " and ".join(repr(t) for t in texts), timeout)
    return screen_text(pilot.app)


@pytest.fixture
def layout_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Grows by one at every layout pass of any screen (Screen._refresh_layout)."""
    from textual.screen import Screen

    passes: list[int] = []
    real = Screen._refresh_layout

    def counted(self: Screen[Any], *args: Any, **kwargs: Any) -> None:
        passes.append(1)
        real(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    return passes
