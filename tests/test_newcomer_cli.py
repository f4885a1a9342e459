"""Issue 17 on the command line: one spelling of a state for people (`early-stopped`, as the
app says it) while files and `--json` keep the contract's `early_stopped`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_an_early_stopped_run_reads_early_stopped_to_people(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # min_delta 10: no epoch after the first improves, so patience 1 stops it at epoch 2
    done = run_cli("train", "xor-adam", "--runs-dir", str(runs), "--set", "train.epochs=20",
                   "--set", "data.n_samples=200", "--set", "early_stopping.patience=1",
                   "--set", "early_stopping.min_delta=10", "--set", "train.device=cpu",
                   timeout=600)  # torch imports slowly on a loaded machine
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].startswith("early-stopped: ")
    table = run_cli("runs", "--runs-dir", str(runs), timeout=600)
    assert "early-stopped" in table.stdout and "early_stopped" not in table.stdout
    row = json.loads(run_cli("runs", "--runs-dir", str(runs), "--json", timeout=600).stdout)
    assert row["state"] == "early_stopped"
    run_dir = next(runs.iterdir())
    assert json.loads((run_dir / "status.json").read_text())["state"] == "early_stopped"
