"""A script's own loop, streamed through dmt_tui.Run, in the app: its row and epochs appear
live, `s` stops it (the script sees should_stop and ends `stopped`), and export reads it back."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dmt_tui.app.app import DmtApp
from dmt_tui.app.confirm import StopConfirm
from dmt_tui.app.monitor import MonitorScreen
from dmt_tui.rundir.record import RunRecord
from tests.conftest import ROOT, run_cli
from tests.tui.conftest import end_process, screen_text, wait_for, wait_for_text

pytestmark = pytest.mark.slow

# The course's loop with the four lines of the API; it trains until something stops it.
SCRIPT = """
import sys, torch, dmt_tui
from torch import nn
torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(4000, 2); y = (x[:, 0] * x[:, 1] > 0).long()
model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
with dmt_tui.Run("own-loop", config={"train": {"epochs": 100000}}, runs_dir=sys.argv[1]) as run:
    run.watch(model)
    for epoch in range(100000):
        total = torch.zeros(())
        for i in range(0, 3200, 16):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[i:i + 16]), y[i:i + 16])
            loss.backward()
            optimizer.step()
            total += loss.detach()
        with torch.no_grad():
            out = model(x[3200:])
            val_loss = nn.functional.cross_entropy(out, y[3200:])
            val_acc = (out.argmax(1) == y[3200:]).float().mean()
        run.epoch(train_loss=total / 200, val_loss=val_loss, val_acc=val_acc, sharpness=0.5)
        if run.should_stop:
            break
print("left the loop", run.epoch_count, flush=True)
"""


def shown_epoch(app: DmtApp) -> int:
    found = re.search(r"epoch (\d+): train", screen_text(app))
    return int(found.group(1)) if found else 0


async def test_the_app_shows_a_scripts_run_and_s_stops_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    script = subprocess.Popen([sys.executable, "-c", SCRIPT, str(runs)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        app = DmtApp(runs)
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(pilot, lambda: any(runs.glob("*-own-loop")), "the run folder")
            run_dir = next(runs.glob("*-own-loop"))
            await wait_for_text(pilot, run_dir.name, "running")
            await wait_for(pilot, lambda: shown_epoch(app) >= 2, "two epochs in the loss panel")
            await wait_for_text(pilot, "layer 0 (1/2)")  # the gradient panel, named by path
            await pilot.press("s")
            await wait_for(pilot, lambda: isinstance(app.screen, StopConfirm), "the question")
            await pilot.press("y")
            await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen), "the monitor")
            await wait_for_text(pilot, "stopped: stopped by SIGTERM after epoch")
        out, err = script.communicate(timeout=120)
    finally:
        end_process(script)  # type: ignore[arg-type]
    assert script.returncode == 0, err
    assert out.startswith("left the loop")
    record = RunRecord.load(run_dir)
    assert record.state == "stopped" and len(record.epochs) >= 2
    assert len(record.grads) == len(record.epochs)
    exported = run_cli("export", run_dir.name, "--runs-dir", str(runs), "-o",
                       str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    with open(tmp_path / "out" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(record.epochs)
    assert rows[0]["run_id"] == run_dir.name and rows[0]["state"] == "stopped"
    assert float(rows[0]["val_loss"]) == pytest.approx(record.epochs[0]["val_loss"])
    assert rows[0]["grad_mean_0"] and rows[0]["grad_mean_2"] and rows[0]["grad_mean_total"]
    assert float(rows[0]["sharpness"]) == 0.5  # the script's own metric, as a column
