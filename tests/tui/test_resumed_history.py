"""A resumed run's whole events.jsonl, read as the app holds it: the epochs and gradient
events recorded after the checkpoint's epoch and before the `resume` event are replaced by
those after it, and the run's earlier `end` is not its last. Crafted from the recorded run:
stopped after epoch 25, resumed from a checkpoint of epoch 20 to 30 epochs, finished."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from dmt_tui import rundir
from dmt_tui.app.history import read_history
from dmt_tui.app.store import RunStore, RunUpdate
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN

SEAM, TOTAL = 20, 30


def resumed_events() -> list[dict[str, Any]]:
    """The recorded run (25 epochs, its `end` made `stopped`), a `resume` from epoch 20, ten
    epochs whose losses are halved (told apart from the first ones), and `end` finished."""
    lines = (DATA_RUNS / RECORDED_RUN / rundir.EVENTS).read_text("utf-8").splitlines()
    first = [json.loads(line) for line in lines]
    first[-1] = {**first[-1], "state": "stopped"}
    assert first[-1]["type"] == "end"
    epoch_25 = next(e for e in reversed(first) if e["type"] == "epoch")
    grad_25 = next(e for e in reversed(first) if e["type"] == "grad")
    again: list[dict[str, Any]] = [{"type": "resume", "time": 1.0, "epoch": SEAM,
                                    "epochs": TOTAL, "pid": 1, "device": "cpu"}]
    for n in range(SEAM + 1, TOTAL + 1):
        again.append({**epoch_25, "epoch": n, "train_loss": epoch_25["train_loss"] / 2})
        again.append({**grad_25, "epoch": n})
    end = {**first[-1], "state": "finished", "epochs": TOTAL}
    return [*first, *again, end]


@pytest.fixture
def resumed_file(tmp_path: Path) -> Path:
    path = tmp_path / rundir.EVENTS
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in resumed_events()))
    return path


@pytest.mark.parametrize("block", [1 << 20, 700])  # lines across block boundaries too
def test_what_the_resume_replaced_is_gone(resumed_file: Path, block: int) -> None:
    history = read_history(resumed_file, block=block)
    assert [e["epoch"] for e in history.epochs] == list(range(1, TOTAL + 1))
    halved = [e["epoch"] for e in history.epochs if e["epoch"] > SEAM]
    written = {e["epoch"]: e for e in resumed_events() if e["type"] == "epoch"}  # the last
    assert [e["train_loss"] for e in history.epochs if e["epoch"] in halved] == \
        [written[n]["train_loss"] for n in halved]  # the later epochs, not the first ones
    recorded = [g["epoch"] for g in resumed_events() if g["type"] == "grad"]
    assert [g["epoch"] for g in history.grads] == \
        [n for n in recorded[:recorded.index(SEAM + 1, 1)] if n <= SEAM] \
        + list(range(SEAM + 1, TOTAL + 1))
    assert "layers" in history.grads[-1]  # the newest grad whole: the panel draws it
    assert "es_wait" in history.epochs[-1]  # the newest epoch whole
    ends = [e for e in history.events if e["type"] == "end"]
    assert [e["state"] for e in ends] == ["finished"]
    assert not [e for e in history.events if e["type"] == "resume"]  # done once, here


def test_the_app_shows_the_resumed_run_as_it_ended(resumed_file: Path) -> None:
    history = read_history(resumed_file)
    store = RunStore()
    run_dir = resumed_file.parent
    store.want([run_dir.name])
    store.apply([RunUpdate(run_dir, history.events, {"state": "finished"}, history=True,
                           epochs=history.epochs, grads=history.grads)])
    record = store.records[run_dir.name]
    assert record.state == "finished" and record.epoch == TOTAL
    assert [e["epoch"] for e in record.epochs] == list(range(1, TOTAL + 1))
