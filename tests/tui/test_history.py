"""Reading a whole events.jsonl as the app holds it (history.read_history): the same numbers
as parsing every line, with only the newest epoch and grad whole, from any writer's JSON,
and a live run's tail picking up where the history read stopped."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.app.history import quick_grad, read_history
from dmt_tui.app.store import slim_epoch, slim_grad, total_mean
from dmt_tui.app.watcher import RunsWatcher
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN

RECORDED_EVENTS = DATA_RUNS / RECORDED_RUN / rundir.EVENTS


def parsed(path: Path) -> list[dict[str, Any]]:
    """Every line parsed, independently of the code under test."""
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def expected_history(events: list[dict[str, Any]]) -> tuple[list[Any], list[Any], list[Any]]:
    """(epochs, grads, other events) as the app should hold them."""
    epochs, grads = of_type(events, "epoch"), of_type(events, "grad")
    progress = of_type(events, "progress")
    others = [e for e in events if e["type"] in ("start", "end")] + progress[-1:]
    return ([slim_epoch(e) for e in epochs[:-1]] + epochs[-1:],
            [slim_grad(g) for g in grads[:-1]] + grads[-1:], others)


@pytest.mark.parametrize("block", [1 << 20, 700])  # lines across block boundaries too
def test_the_recorded_run_reads_as_its_parsed_lines(block: int) -> None:
    history = read_history(RECORDED_EVENTS, block=block)
    epochs, grads, others = expected_history(parsed(RECORDED_EVENTS))
    assert history.epochs == epochs and len(epochs) == 25
    assert history.grads == grads and "layers" in history.grads[-1]
    assert sorted(history.events, key=lambda e: e["type"]) == \
        sorted(others, key=lambda e: e["type"])
    assert history.offset == RECORDED_EVENTS.stat().st_size and history.skipped == []


def test_another_writers_json_gives_the_same_history(tmp_path: Path) -> None:
    """Spaces after colons and keys in another order: no line looks like EventLog's, so
    every one is parsed; the numbers are the same."""
    events = parsed(RECORDED_EVENTS)
    path = tmp_path / rundir.EVENTS
    path.write_text("".join(json.dumps(dict(reversed(e.items()))) + "\n" for e in events))
    history = read_history(path)
    epochs, grads, _ = expected_history(events)
    assert history.epochs == epochs and history.grads == grads


def test_a_null_total_and_odd_lines_are_read_or_skipped_with_a_note(tmp_path: Path) -> None:
    grad = {"type": "grad", "time": 1.0, "epoch": 1, "layers": [],
            "total": {"name": "total", "mean": None, "counts": [], "edges": []}}
    later = {**grad, "epoch": 2, "total": {"name": "total", "mean": 2.5e-07}}
    path = tmp_path / rundir.EVENTS
    path.write_bytes(b"".join([
        json.dumps(grad, separators=(",", ":")).encode() + b"\n",
        b"not json\n", b"\n", b"[1, 2]\n",
        json.dumps(later, separators=(",", ":")).encode() + b"\n",
        b'{"type":"epoch","epoch":3,"train_l']))  # torn: a writer mid-line
    history = read_history(path)
    assert history.grads == [slim_grad(grad), later]
    assert [total_mean(g) for g in history.grads] == [None, 2.5e-07]
    assert len(history.skipped) == 2 and "not JSON" in history.skipped[0]
    assert "not an event" in history.skipped[1]  # [1, 2]: checked as EventTail checks it
    assert history.offset == path.stat().st_size - len(b'{"type":"epoch","epoch":3,"train_l')


def test_epochs_with_wrong_fields_are_cleaned_past_and_newest(tmp_path: Path) -> None:
    """A past epoch's plotted field of the wrong type, or an epoch number that is a float, is
    read field by field (slim, the field dropped with a note); the newest epoch is held whole
    and cleaned, its notes kept too."""
    good = {"type": "epoch", "time": 1.0, "epoch": 1, "train_loss": 0.5, "val_loss": 0.6,
            "train_acc": None, "val_acc": 0.5, "lr": 0.1, "seconds": 0.2, "es_wait": 0}
    events = [good, {**good, "epoch": 2.0, "val_loss": 0.4},
              {**good, "epoch": 3, "lr": "fast"}, {**good, "epoch": 4, "es_wait": "x"}]
    path = tmp_path / rundir.EVENTS
    path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
    history = read_history(path)
    assert [e["epoch"] for e in history.epochs] == [1, 2, 3, 4]
    assert history.epochs[0] == slim_epoch(good)
    assert history.epochs[1]["val_loss"] == 0.4 and type(history.epochs[1]["epoch"]) is int
    assert history.epochs[2]["lr"] is None  # slim keeps the key, without the wrong value
    assert history.epochs[3] == {k: v for k, v in events[3].items() if k != "es_wait"}
    assert len(history.skipped) == 2
    assert "ignored lr='fast' (wrong type)" in history.skipped[0]
    assert "the last epoch" in history.skipped[1] and "es_wait='x'" in history.skipped[1]


def test_a_live_run_is_read_whole_once_then_tailed_from_there(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / RECORDED_RUN
    shutil.copytree(DATA_RUNS / RECORDED_RUN, run_dir)
    events = parsed(RECORDED_EVENTS)
    live = [e for e in events if e["type"] != "end"]
    (run_dir / rundir.EVENTS).write_text("".join(json.dumps(e) + "\n" for e in live))
    rundir.write_status(run_dir, state="running", pid=os.getpid(), epoch=25)
    watcher = RunsWatcher(tmp_path / "runs", target=None)  # type: ignore[arg-type]
    (first,) = watcher.poll()
    epochs, grads, others = expected_history(live)
    assert first.epochs == epochs and first.grads == grads
    assert first.events == others and others[0]["type"] == "start"
    with open(run_dir / rundir.EVENTS, "a") as f:
        f.write(json.dumps({**of_type(events, "epoch")[-1], "epoch": 26, "time": time.time()})
                + "\n")
    (second,) = watcher.poll()
    assert [(e["type"], e["epoch"]) for e in second.events] == [("epoch", 26)]
    assert second.epochs is None and second.grads is None  # appended, not replaced


@pytest.mark.parametrize("spaced", ["last", "all but last"])
def test_the_newest_grad_is_held_whole_whichever_writer_wrote_it(tmp_path: Path,
                                                                  spaced: str) -> None:
    events = parsed(RECORDED_EVENTS)
    last = max(i for i, e in enumerate(events) if e["type"] == "grad")

    def line(i: int, event: dict[str, Any]) -> str:
        spaces = (i == last) == (spaced == "last")  # json.dumps' spaces: not EventLog's
        return json.dumps(event, separators=(", ", ": ") if spaces else (",", ":"))

    path = tmp_path / rundir.EVENTS
    path.write_text("".join(line(i, e) + "\n" for i, e in enumerate(events)))
    history = read_history(path, block=5000)
    epochs, grads, _ = expected_history(events)
    assert history.grads == grads and history.grads[-1] == events[last]


def test_the_trainers_grad_lines_give_their_numbers_without_being_parsed() -> None:
    """The committed run was written by the real trainer: every one of its `grad` lines
    takes the quick path, and gives what parsing it gives."""
    lines = [line for line in RECORDED_EVENTS.read_bytes().splitlines()
             if line.startswith(b'{"type":"grad"')]
    assert len(lines) == 25
    for line in lines:
        assert quick_grad(line) == slim_grad(json.loads(line))
