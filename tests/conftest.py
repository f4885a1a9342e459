"""Shared fixtures: real trainer processes, small and fast."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`dmt-tui ARGS` as a user runs it, in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "dmt_tui.cli", *args], capture_output=True, text=True,
        timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def wait_until(condition: Callable[[], object], timeout: float = 120.0,
               what: str = "the condition") -> None:
    """Poll `condition` until it holds; generous, as trainers start slowly on a busy box."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


# Slow enough per epoch (200 steps) that a poll sees epochs arrive one by one, and small
# enough to start fast; one thread, as the test machine has two cores and other work.
TINY_PRESET = """\
name: tiny
description: a small fast net for the app's tests
data: {dataset: xor, n_samples: 2000, noise: 0.05, val_fraction: 0.2}
model: {kind: mlp, hidden: [8, 8], activation: tanh}
optimizer: {name: adam, lr: 0.01}
train: {epochs: 6, batch_size: 8, seed: 0, device: cpu, threads: 1}
early_stopping: {patience: 50}
"""


@pytest.fixture
def presets_dir(tmp_path: Path) -> Path:
    """A user presets folder holding `tiny` (listed after every built-in preset)."""
    folder = tmp_path / "presets"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(TINY_PRESET, encoding="utf-8")
    return folder
