"""The app's run store without a screen: what the watcher's updates make of the records,
which ended runs' events are held, and what is read from disk when a run is looked at.
Updates are built here as the watcher sends them, from the committed recorded run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from dmt_tui import rundir
from dmt_tui.app.store import RunStore, RunUpdate, slim_epoch, slim_grad, total_mean
from tests.tui.conftest import DATA_RUNS, RECORDED_RUN

FINISHED = {"state": "finished", "epoch": 25, "best_epoch": 12}


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return rundir.read_events(DATA_RUNS / RECORDED_RUN)[0]


def ended_runs(tmp_path: Path, count: int) -> list[Path]:
    """`count` copies of the recorded run, oldest first."""
    made = []
    for n in range(count):
        run_dir = tmp_path / f"2026010{n + 1}-000000-run"
        shutil.copytree(DATA_RUNS / RECORDED_RUN, run_dir)
        made.append(run_dir)
    return made


def seen_ended(run_dir: Path) -> RunUpdate:
    """The watcher's first update of a run that had ended: status and config, no events."""
    return RunUpdate(run_dir, [], FINISHED, {"name": "deep-sigmoid-vanishing"},
                     events_on_disk=True)


def test_an_ended_run_is_listed_from_its_status_before_its_events_are_read(
        tmp_path: Path) -> None:
    [run_dir] = ended_runs(tmp_path, 1)
    store = RunStore()
    applied = store.apply([seen_ended(run_dir)])
    record = store.records[run_dir.name]
    assert applied.changed == [record] and not applied.histories
    assert (record.name, record.state, record.epoch, record.epochs) == \
        ("deep-sigmoid-vanishing", "finished", 25, [])
    assert store.on_disk(run_dir.name)


def test_looking_at_an_ended_run_asks_for_its_events_once_and_they_replace(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    [run_dir] = ended_runs(tmp_path, 1)
    store = RunStore()
    store.apply([seen_ended(run_dir)])
    assert store.want([run_dir.name]) == [run_dir.name]
    history = RunUpdate(run_dir, events, FINISHED, history=True)
    applied = store.apply([history])
    assert applied.histories == {run_dir.name}
    assert not store.on_disk(run_dir.name)
    record = store.records[run_dir.name]
    assert [e["epoch"] for e in record.epochs] == list(range(1, 26))
    store.apply([history])  # read again (asked twice): replaced, not doubled
    assert len(record.epochs) == 25 and len(record.grads) == 25
    assert store.want([run_dir.name]) == []  # held: nothing to read


def test_a_history_that_arrives_after_the_selection_moved_on_is_dropped(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    run_dirs = ended_runs(tmp_path, 4)
    store = RunStore(keep_events=1)
    store.apply([seen_ended(d) for d in run_dirs])
    for run_dir in run_dirs[1:]:  # scrolling past three runs: the last one is wanted
        store.want([run_dir.name])
    late = store.apply([RunUpdate(run_dirs[1], events, FINISHED, history=True)])
    assert late.changed == [] and store.records[run_dirs[1].name].epochs == []
    assert store.on_disk(run_dirs[1].name)


def test_ended_runs_looked_at_before_the_last_two_drop_their_events(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    run_dirs = ended_runs(tmp_path, 3)
    ids = [d.name for d in run_dirs]
    store = RunStore()
    store.apply([seen_ended(d) for d in run_dirs])
    for run_dir in run_dirs:
        store.want([run_dir.name])
        store.apply([RunUpdate(run_dir, events, FINISHED, history=True)])
    first, second, third = (store.records[i] for i in ids)
    assert first.epochs == [] and first.grads == []
    assert len(second.epochs) == len(third.epochs) == 25
    assert store.on_disk(ids[0]) and not store.on_disk(ids[1])
    assert store.want([ids[0]]) == [ids[0]]  # back to it: read again
    assert second.epochs == []  # and now the oldest looked at is the second


def test_a_comparison_holds_every_run_it_shows(tmp_path: Path,
                                               events: list[dict[str, Any]]) -> None:
    run_dirs = ended_runs(tmp_path, 4)
    ids = [d.name for d in run_dirs]
    store = RunStore()
    store.apply([seen_ended(d) for d in run_dirs])
    assert store.want(ids) == ids  # four marked runs: more than keep_events, all held
    store.apply([RunUpdate(d, events, FINISHED, history=True) for d in run_dirs])
    assert all(len(store.records[i].epochs) == 25 for i in ids)


def test_a_live_run_keeps_its_events_however_long_ago_it_was_looked_at(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    live, *ended = ended_runs(tmp_path, 4)
    store = RunStore()
    running = {"state": "running", "epoch": 3}
    store.apply([RunUpdate(live, events[:7], running, {})])  # start, then live epochs
    store.apply([seen_ended(d) for d in ended])
    store.want([live.name])
    for run_dir in ended:
        store.want([run_dir.name])
    record = store.records[live.name]
    assert [e["epoch"] for e in record.epochs] == [1, 2, 3]
    assert not store.on_disk(live.name)


def test_only_the_newest_grad_event_is_held_whole(tmp_path: Path,
                                                  events: list[dict[str, Any]]) -> None:
    [run_dir] = ended_runs(tmp_path, 1)
    store = RunStore()
    grads = [e for e in events if e["type"] == "grad"]
    half = len(events) // 2
    store.apply([RunUpdate(run_dir, events[:half], {"state": "running"}, {})])
    store.apply([RunUpdate(run_dir, events[half:], FINISHED)])  # the live run's next poll
    held = store.records[run_dir.name].grads
    assert held[-1] == grads[-1]
    assert held[:-1] == [slim_grad(g) for g in grads[:-1]]
    assert [(g["epoch"], total_mean(g)) for g in held] == \
        [(g["epoch"], g["total"]["mean"]) for g in grads]
    assert all("layers" not in g for g in held[:-1])


def test_a_deleted_run_is_forgotten_even_by_a_poll_that_raced_the_delete(
        tmp_path: Path) -> None:
    old, new = ended_runs(tmp_path, 2)
    store = RunStore()
    store.apply([seen_ended(old), seen_ended(new)])
    assert store.newest() == new.name
    store.forget(new.name)
    assert store.apply([seen_ended(new)]).changed == []
    assert list(store.records) == [old.name] and store.newest() == old.name
    assert not store.on_disk(new.name)


def test_marked_runs_come_oldest_first_and_unknown_ids_are_left_out(tmp_path: Path) -> None:
    old, new = ended_runs(tmp_path, 2)
    store = RunStore()
    store.apply([seen_ended(new), seen_ended(old)])
    assert [r.run_id for r in store.in_order({new.name, "gone", old.name})] == \
        [old.name, new.name]
    assert store.get(None) is None and store.get("gone") is None


def test_only_the_newest_epoch_is_held_whole(tmp_path: Path,
                                             events: list[dict[str, Any]]) -> None:
    [run_dir] = ended_runs(tmp_path, 1)
    store = RunStore()
    epochs = [e for e in events if e["type"] == "epoch"]
    store.apply([RunUpdate(run_dir, events[:9], {"state": "running"}, {})])
    store.apply([RunUpdate(run_dir, events[9:], FINISHED)])
    held = store.records[run_dir.name].epochs
    assert held[-1] == epochs[-1]  # early stopping and progress read all of it
    assert held[:-1] == [slim_epoch(e) for e in epochs[:-1]]
    assert [(e["epoch"], e["train_loss"], e["val_loss"], e["val_acc"]) for e in held] == \
        [(e["epoch"], e["train_loss"], e["val_loss"], e["val_acc"]) for e in epochs]


def test_lists_read_by_the_history_reader_replace_the_records(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    [run_dir] = ended_runs(tmp_path, 1)
    store = RunStore()
    store.apply([seen_ended(run_dir)])
    store.want([run_dir.name])
    epochs, grads = [{"type": "epoch", "epoch": 1}], [{"type": "grad", "epoch": 1}]
    start = next(e for e in events if e["type"] == "start")
    store.apply([RunUpdate(run_dir, [start], FINISHED, history=True, epochs=epochs,
                           grads=grads)])
    record = store.records[run_dir.name]
    assert record.epochs is epochs and record.grads is grads and record.start == start
