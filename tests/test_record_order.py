"""RunRecord.update reads status.json before the events: a trainer writes its `end` event
before its last status, so a run that ends between the two reads is never taken as ended
with only the epochs it had (the experiment view stops updating ended trials, and showed
such a trial with no epochs)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.rundir.record import RunRecord
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN


def test_a_run_that_ends_between_the_reads_is_read_to_its_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = DATA_RUNS / RECORDED_RUN
    lines = (source / rundir.EVENTS).read_text("utf-8").splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "epoch") + 1
    run_dir = tmp_path / RECORDED_RUN
    run_dir.mkdir()
    (run_dir / rundir.CONFIG).write_bytes((source / rundir.CONFIG).read_bytes())
    (run_dir / rundir.EVENTS).write_text("".join(lines[:cut]), "utf-8")  # one epoch so far
    final = json.loads((source / rundir.STATUS).read_text("utf-8"))
    rundir.write_status(run_dir, **{**final, "state": "running", "pid": os.getpid()})
    record = RunRecord.load(run_dir)
    assert record.state == "running" and len(record.epochs) == 1
    read_status = rundir.run_status

    def trainer_ends(path: Path) -> Any:
        """The trainer writes its other epochs, `end`, then status.json, right now."""
        with open(run_dir / rundir.EVENTS, "a", encoding="utf-8") as events:
            events.write("".join(lines[cut:]))
        rundir.write_status(run_dir, **final)
        monkeypatch.setattr(rundir, "run_status", read_status)
        return read_status(path)

    monkeypatch.setattr(rundir, "run_status", trainer_ends)
    record.update()
    assert record.state == "finished" and record.end
    assert len(record.epochs) == 25
