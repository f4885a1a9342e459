"""examples/: each runs as a user runs it, in seconds, on the shipped Wine table, and its run
folder reads back as a finished run with epochs and gradient norms."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from dmt_tui.rundir.record import RunRecord
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples"


def run_example(script: str, runs: Path) -> RunRecord:
    done = subprocess.run([sys.executable, str(EXAMPLES / script), "--runs-dir", str(runs),
                           "--epochs", "3"], capture_output=True, text=True, timeout=300,
                          cwd=runs.parent)
    assert done.returncode == 0, done.stderr
    run_dir = next(runs.iterdir())
    assert f"run {run_dir}: finished" in done.stdout
    return RunRecord.load(run_dir)


def test_the_plain_loop_example(tmp_path: Path) -> None:
    record = run_example("plain_loop.py", tmp_path / "runs")
    assert record.state == "finished" and record.epochs_total == 3
    assert [e["epoch"] for e in record.epochs] == [1, 2, 3]
    assert record.epochs[-1]["val_acc"] > 0.5  # it learns
    assert record.layer_names == ["0", "2", "4"]
    assert [g["epoch"] for g in record.grads] == [1, 2, 3]
    assert record.setting("model.kind") == "mlp"


@pytest.mark.skipif(importlib.util.find_spec("lightning") is None,
                    reason="the [lightning] extra is not installed")
def test_the_lightning_example(tmp_path: Path) -> None:
    record = run_example("lightning_module.py", tmp_path / "runs")
    assert record.state == "finished" and record.epochs_total == 3
    assert [e["epoch"] for e in record.epochs] == [1, 2, 3]
    assert record.layer_names == ["net.0", "net.2", "net.4"]
    assert len(record.grads) == 3 and record.config["hidden"] == 32


def test_the_readme_example_runs_as_written(tmp_path: Path) -> None:
    """The complete example in README's "Your own training loop", run as a script."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Your own training loop", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "example.py").write_text(code, "utf-8")
    done = subprocess.run([sys.executable, "example.py"], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    record = RunRecord.load(next((tmp_path / "runs").iterdir()))
    assert record.state in ("finished", "early_stopped")
    assert record.epochs and record.epochs[0]["any_metric"] == 0.5
    assert len(record.grads) == len(record.epochs)
    assert record.layer_names == ["0", "2"]
